import { describe, expect, it } from 'vitest';
import { type CallFailure, describeFailure, formatWait } from '../../src/call/call-failures.ts';

const now = 1_000_000;
const rejected = (
  code: string,
  extra: Partial<Extract<CallFailure, { kind: 'token-rejected' }>> = {},
): CallFailure =>
  ({ kind: 'token-rejected', code, status: 403, message: 'server words', ...extra }) as CallFailure;

describe('failure descriptions', () => {
  it('no agent by the deadline says the call was ended, cost nothing, and offers a retry', () => {
    const d = describeFailure({ kind: 'agent-unavailable' }, now);
    expect(d.tag).toBe('agent-unavailable');
    expect(d.title).toMatch(/couldn’t take your call/);
    expect(d.body).toMatch(/did not use any of your minutes/);
    expect(d.actions).toEqual(['retry', 'dismiss']);
  });

  it('TIER_REQUIRED offers the upgrade', () => {
    const d = describeFailure(rejected('TIER_REQUIRED'), now);
    expect(d.tag).toBe('tier-required');
    expect(d.title).toMatch(/Studio/);
    expect(d.actions).toContain('upgrade');
  });

  it('SESSION_LIMIT and RATE_LIMITED say when to retry and hold the retry button until then', () => {
    const limit = describeFailure(rejected('SESSION_LIMIT', { status: 429, retryAt: now + 30_000 }), now);
    expect(limit.tag).toBe('session-limit');
    expect(limit.body).toMatch(/try again in 30 seconds/);
    expect(limit.retryAt).toBe(now + 30_000);
    expect(limit.actions).toContain('retry');
    const rate = describeFailure(rejected('RATE_LIMITED', { status: 429, retryAt: now + 125_000 }), now);
    expect(rate.body).toMatch(/try again in 3 minutes/);
    expect(describeFailure(rejected('RATE_LIMITED', { retryAt: now - 1 }), now).body).toMatch(
      /try again now/,
    );
    expect(describeFailure(rejected('RATE_LIMITED'), now).body).toMatch(/in a moment/);
  });

  it('QUOTA_EXCEEDED, VOICE_DISABLED and UNAUTHENTICATED each have their own way forward', () => {
    const quota = describeFailure(rejected('QUOTA_EXCEEDED'), now);
    expect(quota.tag).toBe('quota-exceeded');
    expect(quota.body).toMatch(/next month/);
    const disabled = describeFailure(rejected('VOICE_DISABLED', { status: 503 }), now);
    expect(disabled.tag).toBe('voice-disabled');
    expect(disabled.body).toMatch(/text chat still work/);
    const unauth = describeFailure(rejected('UNAUTHENTICATED', { status: 401 }), now);
    expect(unauth.actions).toEqual(['sign-in']);
  });

  it('never echoes the server message and always offers an action', () => {
    const kinds: CallFailure[] = [
      { kind: 'not-signed-in' },
      { kind: 'token-service-unreachable' },
      { kind: 'microphone', reason: 'permission-denied' },
      { kind: 'microphone', reason: 'not-found' },
      { kind: 'microphone', reason: 'in-use' },
      { kind: 'microphone', reason: 'other' },
      { kind: 'livekit-unreachable' },
      { kind: 'agent-timeout', seconds: 20 },
      { kind: 'connection-lost' },
      { kind: 'unexpected', detail: 'stack trace here' },
      rejected('INTERNAL', { status: 500 }),
      rejected('UNKNOWN', { status: 418 }),
      rejected('CONVERSATION_NOT_FOUND', { status: 404 }),
      rejected('UNAVAILABLE', { status: 503 }),
    ];
    for (const failure of kinds) {
      const d = describeFailure(failure, now);
      expect(d.actions.length, d.tag).toBeGreaterThan(0);
      expect(`${d.title} ${d.body}`).not.toMatch(/server words|stack trace/);
    }
    expect(describeFailure({ kind: 'microphone', reason: 'permission-denied' }, now).tag).toBe('mic-denied');
    expect(describeFailure({ kind: 'agent-timeout', seconds: 20 }, now).body).toMatch(/20 seconds/);
  });

  it('formats waits for people', () => {
    expect(formatWait(1)).toBe('1 second');
    expect(formatWait(59.2)).toBe('1 minute');
    expect(formatWait(45)).toBe('45 seconds');
    expect(formatWait(61)).toBe('2 minutes');
    expect(formatWait(3600)).toBe('1 hour');
    expect(formatWait(86_400 * 3)).toBe('3 days');
  });
});
