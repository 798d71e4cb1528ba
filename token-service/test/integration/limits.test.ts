import { randomUUID } from 'node:crypto';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  postWebhook,
  type RunningTokenService,
  signWebhook,
  startTokenService,
  webhookBody,
} from '../support/service.ts';

// Limits decided atomically in Postgres, across two service instances; slots freed by webhooks and by leases.
const stack = testStack();
const db = serviceClient(stack);
let first: RunningTokenService;
let second: RunningTokenService;

beforeAll(async () => {
  // A generous issuance rate so the concurrency limit is the only one in play here.
  const env = { VOICE_MAX_ISSUANCES_PER_MINUTE: '1000', VOICE_SESSION_LEASE_SECONDS: '120' };
  [first, second] = await Promise.all([startTokenService(stack, env), startTokenService(stack, env)]);
});
afterAll(async () => {
  await Promise.all([first?.close(), second?.close()]);
});

async function liveSessions(userId: string) {
  const { data, error } = await db
    .from('voice_sessions')
    .select('id, room_name, status, end_reason')
    .eq('user_id', userId)
    .neq('status', 'ended');
  if (error) throw new Error(error.message);
  return data;
}

describe('concurrent sessions', () => {
  it('grants exactly 3 of 50 simultaneous requests over two instances; a room_finished webhook frees one', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    // Warm both instances (connections, kill-switch cache) so the 50 requests reach Postgres together.
    const warm = await createTestUser(stack, { tier: 'studio' });
    await Promise.all([first, second].map((s) => s.requestToken(warm.accessToken, {})));
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? first : second).requestToken(user.accessToken, {})),
    );
    const granted = replies.filter((r) => r.status === 201);
    const limited = replies.filter((r) => r.status === 429);
    expect(granted).toHaveLength(3);
    expect(limited).toHaveLength(47);
    for (const reply of limited) {
      expect(reply.body).toMatchObject({ error: { code: 'SESSION_LIMIT' } });
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const sessions = await liveSessions(user.id);
    expect(sessions).toHaveLength(3);

    // A forged webhook changes nothing.
    const target = sessions[0]!;
    const body = webhookBody('room_finished', target.room_name);
    const forged = await postWebhook(
      first.url,
      body,
      await signWebhook({ apiKey: stack.livekit.apiKey, apiSecret: 'not-the-livekit-secret' }, body),
    );
    expect(forged.status).toBe(401);
    const unsigned = await postWebhook(first.url, body);
    expect(unsigned.status).toBe(401);
    // A real signature replayed with another body changes nothing either.
    const otherBody = webhookBody('room_finished', sessions[1]!.room_name);
    const replayed = await postWebhook(first.url, otherBody, await signWebhook(stack.livekit, body));
    expect(replayed.status).toBe(401);
    expect(await liveSessions(user.id)).toHaveLength(3);
    expect((await first.requestToken(user.accessToken, {})).status).toBe(429);

    // The signed room_finished ends the session and frees the slot: one more call, and no more.
    const signed = await postWebhook(second.url, body, await signWebhook(stack.livekit, body));
    expect(signed.status).toBe(200);
    const { data: ended } = await db.from('voice_sessions').select('*').eq('id', target.id).single();
    expect(ended).toMatchObject({ status: 'ended', end_reason: 'room_finished' });
    expect(ended?.ended_at).toBeTruthy();

    // Repeated and out-of-order deliveries are harmless: the first reason stays.
    const again = await postWebhook(first.url, body, await signWebhook(stack.livekit, body));
    expect(again.status).toBe(200);
    const late = webhookBody('participant_left', target.room_name, user.id);
    expect((await postWebhook(first.url, late, await signWebhook(stack.livekit, late))).status).toBe(200);
    const { data: still } = await db.from('voice_sessions').select('end_reason').eq('id', target.id).single();
    expect(still?.end_reason).toBe('room_finished');

    expect((await first.requestToken(user.accessToken, {})).status).toBe(201);
    expect((await second.requestToken(user.accessToken, {})).status).toBe(429);
  });

  it('claim_voice_session stays exact under 50 truly parallel transactions (20 connections)', async () => {
    // Straight to Postgres, so the calls overlap far more tightly than HTTP requests can: without the per-user
    // lock this grants more than 3.
    const user = await createTestUser(stack, { tier: 'studio' });
    const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 20 });
    try {
      await Promise.all(Array.from({ length: 20 }, () => pool.query('select 1')));
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          pool.query<{ r: { code: string } }>(
            'select public.claim_voice_session($1, $2, $3, null, 3, 1000, 600, 1800, 60) as r',
            [user.id, randomUUID(), `voice-${randomUUID()}`],
          ),
        ),
      );
      const codes = results.map((result) => result.rows[0]?.r.code);
      expect(codes.filter((code) => code === 'OK')).toHaveLength(3);
      expect(codes.filter((code) => code === 'SESSION_LIMIT')).toHaveLength(47);
    } finally {
      await pool.end();
    }
  });

  it('ends a session when the caller leaves, but not when the agent leaves', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const reply = await first.requestToken(user.accessToken, {});
    expect(reply.status).toBe(201);
    const room = (reply.body as { room_name: string }).room_name;
    const sessionId = (reply.body as { session_id: string }).session_id;

    const agentLeft = webhookBody('participant_left', room, 'agent-AJ_123');
    expect(
      (await postWebhook(first.url, agentLeft, await signWebhook(stack.livekit, agentLeft))).status,
    ).toBe(200);
    expect((await db.from('voice_sessions').select('status').eq('id', sessionId).single()).data?.status).toBe(
      'pending',
    );

    const callerLeft = webhookBody('participant_left', room, user.id);
    expect(
      (await postWebhook(first.url, callerLeft, await signWebhook(stack.livekit, callerLeft))).status,
    ).toBe(200);
    const { data } = await db
      .from('voice_sessions')
      .select('status, end_reason')
      .eq('id', sessionId)
      .single();
    expect(data).toEqual({ status: 'ended', end_reason: 'caller_left' });
  });

  it("frees an unused token's slot after its lease", async () => {
    const leased = await startTokenService(stack, {
      VOICE_MAX_CONCURRENT_SESSIONS: '1',
      VOICE_SESSION_LEASE_SECONDS: '5',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '1000',
    });
    try {
      const user = await createTestUser(stack, { tier: 'studio' });
      const granted = await leased.requestToken(user.accessToken, {});
      expect(granted.status).toBe(201);
      const denied = await leased.requestToken(user.accessToken, {});
      expect(denied.status).toBe(429);
      const retryAfter = Number(denied.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(5);

      await new Promise((resolve) => setTimeout(resolve, 5_500));
      const after = await leased.requestToken(user.accessToken, {});
      expect(after.status).toBe(201);
      const { data } = await db
        .from('voice_sessions')
        .select('status, end_reason, duration_seconds')
        .eq('id', (granted.body as { session_id: string }).session_id)
        .single();
      // Never started, so it costs no minutes.
      expect(data).toEqual({ status: 'ended', end_reason: 'lease_expired', duration_seconds: 0 });
    } finally {
      await leased.close();
    }
  });
});

describe('rate and monthly minutes', () => {
  it('refuses more than R issuances a minute with 429 RATE_LIMITED and Retry-After', async () => {
    const limited = await startTokenService(stack, {
      VOICE_MAX_ISSUANCES_PER_MINUTE: '2',
      VOICE_MAX_CONCURRENT_SESSIONS: '10',
    });
    try {
      const user = await createTestUser(stack, { tier: 'studio' });
      expect((await limited.requestToken(user.accessToken, {})).status).toBe(201);
      expect((await limited.requestToken(user.accessToken, {})).status).toBe(201);
      const third = await limited.requestToken(user.accessToken, {});
      expect(third.status).toBe(429);
      expect(third.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      const retryAfter = Number(third.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(50);
      expect(retryAfter).toBeLessThanOrEqual(60);
    } finally {
      await limited.close();
    }
  });

  it('refuses with 403 QUOTA_EXCEEDED once the monthly minutes are used, and caps a call by the minutes left', async () => {
    const quota = await startTokenService(stack, {
      VOICE_MONTHLY_MINUTES: '2',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
    });
    try {
      const user = await createTestUser(stack, { tier: 'studio' });
      const first = await quota.requestToken(user.accessToken, {});
      expect(first.status).toBe(201);
      const firstBody = first.body as { session_id: string };
      // The agent starts the call; 90 s of it are used (backdated start, then ended).
      const activated = await db.rpc('activate_voice_session', {
        p_session_id: firstBody.session_id,
        p_lease_seconds: 60,
      });
      expect(activated.data).toEqual({ ok: true, status: 'active', reason: null });
      await db
        .from('voice_sessions')
        .update({ started_at: new Date(Date.now() - 90_000).toISOString() })
        .eq('id', firstBody.session_id);
      const ended = await db.rpc('end_voice_session', {
        p_session_id: firstBody.session_id,
        p_reason: 'caller_left',
      });
      expect(ended.data).toEqual({ ended: true, already_ended: false });

      const second = await quota.requestToken(user.accessToken, {});
      expect(second.status).toBe(201);
      const limits = (second.body as { limits: { max_call_seconds: number; monthly_minutes_used: number } })
        .limits;
      expect(limits.max_call_seconds).toBeLessThanOrEqual(30);
      expect(limits.monthly_minutes_used).toBeCloseTo(1.5, 0);
      // That call uses the rest.
      const secondId = (second.body as { session_id: string }).session_id;
      await db.rpc('activate_voice_session', { p_session_id: secondId, p_lease_seconds: 60 });
      await db
        .from('voice_sessions')
        .update({ started_at: new Date(Date.now() - 40_000).toISOString() })
        .eq('id', secondId);
      await db.rpc('end_voice_session', { p_session_id: secondId, p_reason: 'max_duration' });

      const third = await quota.requestToken(user.accessToken, {});
      expect(third.status).toBe(403);
      expect(third.body).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });
    } finally {
      await quota.close();
    }
  });
});

describe('session lifecycle functions (what the agent calls)', () => {
  it('activate → renew → end is idempotent and the first reason wins', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const reply = await first.requestToken(user.accessToken, {});
    const id = (reply.body as { session_id: string }).session_id;

    expect((await db.rpc('activate_voice_session', { p_session_id: id, p_lease_seconds: 30 })).data).toEqual({
      ok: true,
      status: 'active',
      reason: null,
    });
    expect((await db.rpc('renew_voice_session_lease', { p_session_id: id, p_lease_seconds: 30 })).data).toBe(
      true,
    );
    expect((await db.rpc('end_voice_session', { p_session_id: id, p_reason: 'max_duration' })).data).toEqual({
      ended: true,
      already_ended: false,
    });
    expect((await db.rpc('end_voice_session', { p_session_id: id, p_reason: 'error' })).data).toEqual({
      ended: false,
      already_ended: true,
    });
    expect((await db.rpc('renew_voice_session_lease', { p_session_id: id, p_lease_seconds: 30 })).data).toBe(
      false,
    );
    expect((await db.rpc('activate_voice_session', { p_session_id: id, p_lease_seconds: 30 })).data).toEqual({
      ok: false,
      status: 'ended',
      reason: 'max_duration',
    });
    const { data } = await db
      .from('voice_sessions')
      .select('end_reason, duration_seconds, ended_at')
      .eq('id', id)
      .single();
    expect(data?.end_reason).toBe('max_duration');
    expect(Number(data?.duration_seconds)).toBeGreaterThanOrEqual(0);
  });

  it('cannot be called by users, and users cannot read the kill-switch flags', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const claim = await user.client.rpc('claim_voice_session', {
      p_user_id: user.id,
      p_session_id: '00000000-0000-4000-8000-000000000001',
      p_room_name: 'x',
      p_conversation_id: null,
      p_max_concurrent: 100,
      p_max_per_minute: 100,
      p_monthly_minutes: 100,
      p_max_call_seconds: 100,
      p_lease_seconds: 100,
    });
    expect(claim.error).not.toBeNull();
    const end = await user.client.rpc('end_voice_session', {
      p_session_id: '00000000-0000-4000-8000-000000000001',
      p_reason: 'x',
    });
    expect(end.error).not.toBeNull();
    const flags = await user.client.from('voice_flags').select('*');
    expect(flags.data ?? []).toEqual([]);
  });
});
