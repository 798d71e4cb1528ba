import { describe, expect, it } from 'vitest';
import { messageIdFor, usageLogIdFor, uuidV5 } from '../../src/persistence/deterministic-id.ts';
import { TurnClock, toMessageRow, UserTurnRows } from '../../src/persistence/message-rows.ts';

const SESSION = '7f1d3c2a-9b8e-4f6d-a5c4-3b2a1f0e9d8c';

describe('deterministic ids', () => {
  it('matches the RFC 4122 v5 reference vector (DNS namespace, "www.example.com")', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('gives the same message id for the same (session, item) and different ids otherwise', () => {
    const a = messageIdFor(SESSION, 'item_abc');
    expect(messageIdFor(SESSION, 'item_abc')).toBe(a);
    expect(messageIdFor(SESSION, 'item_abd')).not.toBe(a);
    expect(messageIdFor('00000000-0000-4000-8000-000000000001', 'item_abc')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives one usage row id per session, distinct from any message id', () => {
    expect(usageLogIdFor(SESSION)).toBe(usageLogIdFor(SESSION));
    expect(usageLogIdFor(SESSION)).not.toBe(messageIdFor(SESSION, 'usage_log'));
  });

  it('rejects a namespace that is not a UUID', () => {
    expect(() => uuidV5('not-a-uuid', 'x')).toThrow();
  });
});

describe('message rows', () => {
  const call = {
    sessionId: SESSION,
    userId: '11111111-1111-4111-8111-111111111111',
    conversationId: '22222222-2222-4222-8222-222222222222',
  };

  it('maps an interrupted assistant reply as heard, with voice metadata and latency', () => {
    const row = toMessageRow(
      call,
      {
        id: 'item_1',
        role: 'assistant',
        textContent: 'Sure, the first part ',
        interrupted: true,
        metrics: { e2eLatency: 0.61234, llmNodeTtft: 0.2, ttsNodeTtfb: 0.1 },
      },
      Date.parse('2026-11-25T10:00:00.000Z'),
    );
    expect(row).toMatchObject({
      id: messageIdFor(SESSION, 'item_1'),
      role: 'assistant',
      content: 'Sure, the first part',
      type: 'text',
      conversation_id: call.conversationId,
      user_id: call.userId,
      created_at: '2026-11-25T10:00:00.000Z',
      metadata: {
        voice_call: true,
        session_id: SESSION,
        interrupted: true,
        latency: { e2e: 0.612, llmTtft: 0.2, ttsTtfb: 0.1 },
      },
    });
  });

  it('skips system items and empty text', () => {
    expect(toMessageRow(call, { id: 'a', role: 'system', textContent: 'prompt' }, 0)).toBeUndefined();
    expect(toMessageRow(call, { id: 'b', role: 'user', textContent: '  ' }, 0)).toBeUndefined();
  });

  it('keeps created_at strictly increasing in the order turns were added', () => {
    const clock = new TurnClock();
    const user = clock.next(1000);
    const preemptiveReply = clock.next(900); // reply started before the user turn was committed
    expect(preemptiveReply).toBeGreaterThan(user);
    expect(clock.next(5000)).toBe(5000);
  });
});

describe('one user utterance, one row (UserTurnRows)', () => {
  const call = {
    sessionId: SESSION,
    userId: '11111111-1111-4111-8111-111111111111',
    conversationId: '22222222-2222-4222-8222-222222222222',
  };
  const row = (id: string, role: 'user' | 'assistant', text: string, at: number, e2e?: number) => {
    const r = toMessageRow(
      call,
      { id, role, textContent: text, metrics: e2e ? { e2eLatency: e2e } : {} },
      at,
    );
    if (!r) throw new Error('no row');
    return r;
  };

  it('joins a user item that follows another with no reply heard between them into the first row', () => {
    const turns = new UserTurnRows();
    const first = turns.add(row('item_u1', 'user', 'I would like to know', 1_000));
    const joined = turns.add(row('item_u2', 'user', 'how bread is made.', 2_000, 0.8));
    // Same row (same id and time, so the upsert rewrites it), the whole utterance, both items named.
    expect(joined.id).toBe(first.id);
    expect(joined.created_at).toBe(first.created_at);
    expect(joined.content).toBe('I would like to know how bread is made.');
    expect(joined.metadata).toMatchObject({ item_id: 'item_u1', item_ids: ['item_u1', 'item_u2'] });
    expect(joined.metadata.latency).toEqual({ e2e: 0.8 });
  });

  it('starts a new user row once a reply was heard, and leaves assistant rows alone', () => {
    const turns = new UserTurnRows();
    const u1 = turns.add(row('item_u1', 'user', 'First question?', 1_000));
    const a1 = turns.add(row('item_a1', 'assistant', 'First answer.', 2_000));
    const u2 = turns.add(row('item_u2', 'user', 'Second question?', 3_000));
    expect(a1.content).toBe('First answer.');
    expect(u2.id).not.toBe(u1.id);
    expect(u2.content).toBe('Second question?');
    expect(turns.add(row('item_u3', 'user', 'And a third part.', 4_000)).content).toBe(
      'Second question? And a third part.',
    );
  });
});
