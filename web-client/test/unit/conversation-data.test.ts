import { describe, expect, it } from 'vitest';
import { describeAuthError } from '../../src/auth/auth-messages.ts';
import { conversationLabel, toStoredMessage } from '../../src/conversations/conversation-data.ts';

describe('message rows', () => {
  it('reads the agent metadata: session, interrupted, latency', () => {
    expect(
      toStoredMessage({
        id: 'm1',
        role: 'assistant',
        content: 'Hello',
        created_at: '2026-11-25T10:00:00Z',
        metadata: { voice_call: true, session_id: 's1', interrupted: true, latency: { e2e: 0.8123 } },
      }),
    ).toEqual({
      id: 'm1',
      role: 'assistant',
      content: 'Hello',
      createdAt: '2026-11-25T10:00:00Z',
      interrupted: true,
      voiceSessionId: 's1',
      latencyMs: 812,
    });
    expect(
      toStoredMessage({ id: 'm2', role: 'user', content: 'typed', created_at: 'x', metadata: null }),
    ).toEqual({ id: 'm2', role: 'user', content: 'typed', createdAt: 'x', interrupted: false });
  });

  it('labels untitled conversations by date', () => {
    expect(
      conversationLabel({ id: 'c', title: ' Trip ', createdAt: '2026-01-01T00:00:00Z', updatedAt: '' }),
    ).toBe('Trip');
    expect(
      conversationLabel({ id: 'c', title: null, createdAt: '2026-01-01T00:00:00Z', updatedAt: '' }),
    ).toMatch(/^Conversation of /);
  });
});

describe('auth error messages', () => {
  it('are human and never echo the server text', () => {
    expect(
      describeAuthError({ code: 'invalid_credentials', status: 400, message: 'Invalid login credentials' }),
    ).toMatch(/do not match/);
    expect(describeAuthError({ code: 'user_already_exists', status: 422 })).toMatch(/already exists/);
    expect(describeAuthError({ status: 0 })).toMatch(/not reachable/);
    expect(describeAuthError({ status: 429 })).toMatch(/Too many/);
    expect(describeAuthError({ status: 400, message: 'secret internal detail' })).not.toMatch(/secret/);
  });
});
