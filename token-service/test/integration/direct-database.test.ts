import { withClient } from '@voice/devstack/processes/postgres';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  postWebhook,
  type RunningTokenService,
  signWebhook,
  startTokenService,
  webhookBody,
} from '../support/service.ts';

// The optional direct Postgres path (TOKEN_DATABASE_URL) always, whatever TOKEN_TEST_DATABASE says: the limits
// stay exact across instances, webhooks find and end sessions, a down database is a 503 and the service recovers.
// (The whole suite also runs on this path with TOKEN_TEST_DATABASE=postgres.)
const stack = testStack();
const db = serviceClient(stack);
let first: RunningTokenService;
let second: RunningTokenService;

beforeAll(async () => {
  const env = {
    TOKEN_DATABASE_URL: stack.databaseUrl,
    TOKEN_DATABASE_POOL_SIZE: '5',
    VOICE_MAX_ISSUANCES_PER_MINUTE: '1000',
    TOKEN_DB_TIMEOUT_MS: '2000',
  };
  [first, second] = await Promise.all([startTokenService(stack, env), startTokenService(stack, env)]);
});
afterAll(async () => {
  await Promise.all([first?.close(), second?.close()]);
});

async function control(action: 'stop' | 'start'): Promise<void> {
  const response = await fetch(`${stack.controlUrl}/postgres/${action}`, { method: 'POST' });
  if (!response.ok) throw new Error(`postgres ${action}: ${response.status} ${await response.text()}`);
}

describe('direct Postgres connection (TOKEN_DATABASE_URL)', () => {
  it('grants exactly 3 of 50 simultaneous requests over two instances; a signed room_finished frees one', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const warm = await createTestUser(stack, { tier: 'studio' });
    await Promise.all([first, second].map((s) => s.requestToken(warm.accessToken, {})));
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? first : second).requestToken(user.accessToken, {})),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(3);
    const limited = replies.filter((r) => r.status === 429);
    expect(limited).toHaveLength(47);
    for (const reply of limited) expect(reply.body).toMatchObject({ error: { code: 'SESSION_LIMIT' } });

    const granted = replies.find((r) => r.status === 201)!.body;
    if ('error' in granted && granted.error) throw new Error('expected a grant');
    const { data: row, error } = await db
      .from('voice_sessions')
      .select('id, user_id, room_name, conversation_id, status')
      .eq('id', granted.session_id)
      .single();
    if (error) throw new Error(error.message);
    expect(row).toEqual({
      id: granted.session_id,
      user_id: user.id,
      room_name: granted.room_name,
      conversation_id: granted.conversation_id,
      status: 'pending',
    });
    expect(granted.limits).toMatchObject({ concurrent_calls_max: 3 });
    // The calls really went over the pool (not PostgREST): its connections are there, under its name.
    const pooled = await withClient(stack.databaseUrl, async (client) => {
      const result = await client.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where application_name = 'voice-token-service'",
      );
      return result.rows[0]?.n ?? 0;
    });
    expect(pooled).toBeGreaterThan(0);

    // The webhook looks the room up and ends its session over the same connection pool.
    const body = webhookBody('room_finished', granted.room_name);
    expect((await postWebhook(second.url, body, await signWebhook(stack.livekit, body))).status).toBe(200);
    const { data: ended } = await db
      .from('voice_sessions')
      .select('status, end_reason')
      .eq('id', row.id)
      .single();
    expect(ended).toEqual({ status: 'ended', end_reason: 'room_finished' });
    expect((await first.requestToken(user.accessToken, {})).status).toBe(201);
    expect((await second.requestToken(user.accessToken, {})).status).toBe(429);
  });

  it('answers 503 UNAVAILABLE while the database is down, keeps /healthz, and recovers', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    expect((await first.requestToken(user.accessToken, {})).status).toBe(201);
    await control('stop');
    try {
      for (let i = 0; i < 3; i += 1) {
        const reply = await first.requestToken(user.accessToken, {});
        expect(reply.status).toBe(503);
        expect(reply.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
        expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${first.url}/readyz`)).status).toBe(503);
    } finally {
      await control('start');
    }
    // Pooled connections died with the server; the pool opens new ones.
    const started = Date.now();
    let status = 0;
    while (Date.now() - started < 30_000) {
      status = (await first.requestToken(user.accessToken, {})).status;
      if (status === 201) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(201);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
  });
});
