import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTokenService, startTokenService } from '../support/service.ts';

// Dependency failures and the kill switch, against the real stack. These flip shared state (the database, the
// global flag), which is why integration files run one at a time; every flip is undone in `finally`.
const stack = testStack();
const db = serviceClient(stack);
const FLAGS_CACHE_MS = 2000;
let service: RunningTokenService;

beforeAll(async () => {
  service = await startTokenService(stack, {
    VOICE_MAX_ISSUANCES_PER_MINUTE: '1000',
    VOICE_MAX_CONCURRENT_SESSIONS: '100',
    VOICE_FLAGS_CACHE_MS: String(FLAGS_CACHE_MS),
    TOKEN_DB_TIMEOUT_MS: '2000',
  });
});
afterAll(() => service?.close());

async function control(action: 'stop' | 'start'): Promise<void> {
  const response = await fetch(`${stack.controlUrl}/postgres/${action}`, { method: 'POST' });
  if (!response.ok) throw new Error(`postgres ${action}: ${response.status} ${await response.text()}`);
}

async function setFlag(scope: 'global' | 'tier' | 'user', subject: string, enabled: boolean): Promise<void> {
  const { error } = await db.from('voice_flags').upsert({
    scope,
    subject,
    voice_enabled: enabled,
    reason: 'integration test',
    updated_at: new Date().toISOString(),
  });
  if (error) throw new Error(error.message);
}

/** Polls until a request succeeds; returns how long it took. */
async function untilGranted(accessToken: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const reply = await service.requestToken(accessToken, {});
    if (reply.status === 201) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`still ${reply.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('kill switch', () => {
  it('global flag off → next request 503 VOICE_DISABLED; back on → granted within the cache time', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
    try {
      await setFlag('global', '', false);
      const refused = await service.requestToken(user.accessToken, {});
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: 'VOICE_DISABLED' } });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // While it is off everywhere, the service answers from its cache without claiming anything.
      const { count: before } = await db
        .from('voice_sessions')
        .select('id', { count: 'exact', head: true })
        .eq('user_id', user.id);
      expect((await service.requestToken(user.accessToken, {})).status).toBe(503);
      const { count: after } = await db
        .from('voice_sessions')
        .select('id', { count: 'exact', head: true })
        .eq('user_id', user.id);
      expect(after).toBe(before);
    } finally {
      await setFlag('global', '', true);
    }
    const tookMs = await untilGranted(user.accessToken, FLAGS_CACHE_MS + 3000);
    // The promise (VOICE_FLAGS_CACHE_MS): back on within the cache time, plus one request's latency.
    expect(tookMs).toBeLessThanOrEqual(FLAGS_CACHE_MS + 1000);
  });

  it('a per-user flag turns voice off for that user only, and back on at once', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const bystander = await createTestUser(stack, { tier: 'studio' });
    try {
      await setFlag('user', user.id, false);
      const refused = await service.requestToken(user.accessToken, {});
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: 'VOICE_DISABLED' } });
      expect((await service.requestToken(bystander.accessToken, {})).status).toBe(201);
    } finally {
      await db.from('voice_flags').delete().eq('scope', 'user').eq('subject', user.id);
    }
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
  });

  it('reaches running calls: the next lease renewal answers false and ends the session', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const running = await service.requestToken(user.accessToken, {});
    const waiting = await service.requestToken(user.accessToken, {});
    const runningId = (running.body as { session_id: string }).session_id;
    const waitingId = (waiting.body as { session_id: string }).session_id;
    expect(
      (await db.rpc('activate_voice_session', { p_session_id: runningId, p_lease_seconds: 30 })).data,
    ).toMatchObject({
      ok: true,
    });
    try {
      await setFlag('user', user.id, false);
      expect(
        (await db.rpc('renew_voice_session_lease', { p_session_id: runningId, p_lease_seconds: 30 })).data,
      ).toBe(false);
      expect(
        (await db.rpc('activate_voice_session', { p_session_id: waitingId, p_lease_seconds: 30 })).data,
      ).toEqual({
        ok: false,
        status: 'ended',
        reason: 'voice_disabled',
      });
      const { data } = await db
        .from('voice_sessions')
        .select('status, end_reason')
        .in('id', [runningId, waitingId]);
      expect(data).toEqual([
        { status: 'ended', end_reason: 'voice_disabled' },
        { status: 'ended', end_reason: 'voice_disabled' },
      ]);
    } finally {
      await db.from('voice_flags').delete().eq('scope', 'user').eq('subject', user.id);
    }
  });

  it('a tier flag turns voice off for that tier; a user flag wins over it', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const pilot = await createTestUser(stack, { tier: 'studio' });
    try {
      await setFlag('tier', 'studio', false);
      await setFlag('user', pilot.id, true);
      const refused = await service.requestToken(user.accessToken, {});
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: { code: 'VOICE_DISABLED' } });
      expect((await service.requestToken(pilot.accessToken, {})).status).toBe(201);
    } finally {
      await db.from('voice_flags').delete().eq('scope', 'tier').eq('subject', 'studio');
      await db.from('voice_flags').delete().eq('scope', 'user').eq('subject', pilot.id);
    }
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
  });

  it('staged rollout: globally off but on for one user', async () => {
    const pilot = await createTestUser(stack, { tier: 'studio' });
    const other = await createTestUser(stack, { tier: 'studio' });
    try {
      await setFlag('global', '', false);
      await setFlag('user', pilot.id, true);
      expect((await service.requestToken(other.accessToken, {})).status).toBe(503);
      expect((await untilGranted(pilot.accessToken, FLAGS_CACHE_MS + 3000)) <= FLAGS_CACHE_MS + 1000).toBe(
        true,
      );
    } finally {
      await setFlag('global', '', true);
      await db.from('voice_flags').delete().eq('scope', 'user').eq('subject', pilot.id);
    }
  });
});

describe('database down', () => {
  it('answers 503 UNAVAILABLE with Retry-After, keeps serving health, and recovers', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
    await control('stop');
    try {
      for (let i = 0; i < 3; i += 1) {
        const reply = await service.requestToken(user.accessToken, {});
        expect(reply.status).toBe(503);
        expect(reply.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
        expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${service.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.headers.get('retry-after')).toBeTruthy();
    } finally {
      await control('start');
    }
    await untilGranted(user.accessToken, 60_000);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });
});
