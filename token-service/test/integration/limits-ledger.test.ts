import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient, type TestUser } from '@voice/devstack/testing/users';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningTokenService, startTokenService } from '../support/service.ts';

// The limits count a ledger no user action can remove: a user deleting their own conversations (one PostgREST
// DELETE with their own token, as any signed-in user can) must not give back a single call, issuance or minute.
const stack = testStack();
const db = serviceClient(stack);
const services: RunningTokenService[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.close()));
});

async function serviceWith(env: Record<string, string>): Promise<RunningTokenService> {
  const service = await startTokenService(stack, env);
  services.push(service);
  return service;
}

/** Deletes every conversation of the user through PostgREST, as the user, and checks some were deleted. */
async function deleteOwnConversations(user: TestUser): Promise<void> {
  const { data, error } = await user.client
    .from('conversations')
    .delete()
    .eq('user_id', user.id)
    .select('id');
  expect(error).toBeNull();
  expect(data?.length ?? 0).toBeGreaterThan(0);
  const { count } = await db
    .from('conversations')
    .select('id', { count: 'exact', head: true })
    .eq('user_id', user.id);
  expect(count).toBe(0);
}

function sessionIdOf(reply: Awaited<ReturnType<RunningTokenService['requestToken']>>): string {
  return (reply.body as { session_id: string }).session_id;
}

describe('a user deleting their conversations keeps every limit', () => {
  it('the concurrent session cap', async () => {
    const service = await serviceWith({
      VOICE_MAX_CONCURRENT_SESSIONS: '2',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
    });
    const user = await createTestUser(stack, { tier: 'studio' });
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
    expect((await service.requestToken(user.accessToken, {})).body).toMatchObject({
      error: { code: 'SESSION_LIMIT' },
    });

    await deleteOwnConversations(user);

    const after = await service.requestToken(user.accessToken, {});
    expect(after.status).toBe(429);
    expect(after.body).toMatchObject({ error: { code: 'SESSION_LIMIT' } });
    // The sessions are still there, each without its conversation.
    const { data: sessions } = await db
      .from('voice_sessions')
      .select('status, conversation_id')
      .eq('user_id', user.id);
    expect(sessions).toEqual([
      { status: 'pending', conversation_id: null },
      { status: 'pending', conversation_id: null },
    ]);
  });

  it('the issuance rate: grant-and-delete rounds get no more than the rate allows', async () => {
    const service = await serviceWith({
      VOICE_MAX_CONCURRENT_SESSIONS: '100',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '3',
    });
    const user = await createTestUser(stack, { tier: 'studio' });
    const statuses: number[] = [];
    for (let round = 0; round < 6; round++) {
      const reply = await service.requestToken(user.accessToken, {});
      statuses.push(reply.status);
      if (reply.status === 201) await deleteOwnConversations(user);
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429, 429]);
    const last = await service.requestToken(user.accessToken, {});
    expect(last.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
  });

  it('the monthly minutes', async () => {
    const service = await serviceWith({
      VOICE_MONTHLY_MINUTES: '2',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
    });
    const user = await createTestUser(stack, { tier: 'studio' });
    const granted = await service.requestToken(user.accessToken, {});
    expect(granted.status).toBe(201);
    const id = sessionIdOf(granted);
    // The agent started the call; it ran for 121 s of the 120 allowed (backdated start, then ended).
    expect(
      (await db.rpc('activate_voice_session', { p_session_id: id, p_lease_seconds: 60 })).data,
    ).toMatchObject({ ok: true });
    await db
      .from('voice_sessions')
      .update({ started_at: new Date(Date.now() - 121_000).toISOString() })
      .eq('id', id);
    await db.rpc('end_voice_session', { p_session_id: id, p_reason: 'caller_left' });
    expect((await service.requestToken(user.accessToken, {})).body).toMatchObject({
      error: { code: 'QUOTA_EXCEEDED' },
    });

    await deleteOwnConversations(user);

    const after = await service.requestToken(user.accessToken, {});
    expect(after.status).toBe(403);
    expect(after.body).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });
    // What the minutes are counted from is still whole.
    const { data } = await db
      .from('voice_sessions')
      .select('status, conversation_id, duration_seconds')
      .eq('id', id)
      .single();
    expect(data?.conversation_id).toBeNull();
    expect(Number(data?.duration_seconds)).toBeGreaterThanOrEqual(121);
  });

  it('users cannot delete or change the ledger itself', async () => {
    const service = await serviceWith({ VOICE_MAX_ISSUANCES_PER_MINUTE: '100' });
    const user = await createTestUser(stack, { tier: 'studio' });
    const id = sessionIdOf(await service.requestToken(user.accessToken, {}));
    const deleted = await user.client.from('voice_sessions').delete().eq('id', id).select('id');
    expect(deleted.error?.code).toBe('42501');
    const updated = await user.client
      .from('voice_sessions')
      .update({ status: 'ended', duration_seconds: 0 })
      .eq('id', id)
      .select('id');
    expect(updated.error?.code).toBe('42501');
    const usage = await user.client.from('usage_logs').delete().eq('user_id', user.id).select('id');
    expect(usage.error?.code).toBe('42501');
    const { data } = await db.from('voice_sessions').select('status').eq('id', id).single();
    expect(data?.status).toBe('pending');
  });
});

describe('a call whose conversation is deleted', () => {
  it('ends at its next lease renewal with end_reason conversation_deleted; a pending one never activates', async () => {
    const service = await serviceWith({ VOICE_MAX_ISSUANCES_PER_MINUTE: '100' });
    const user = await createTestUser(stack, { tier: 'studio' });
    const live = sessionIdOf(await service.requestToken(user.accessToken, {}));
    expect(
      (await db.rpc('activate_voice_session', { p_session_id: live, p_lease_seconds: 60 })).data,
    ).toMatchObject({ ok: true });
    expect(
      (await db.rpc('renew_voice_session_lease', { p_session_id: live, p_lease_seconds: 60 })).data,
    ).toBe(true);
    const waiting = sessionIdOf(await service.requestToken(user.accessToken, {}));

    await deleteOwnConversations(user);

    expect(
      (await db.rpc('renew_voice_session_lease', { p_session_id: live, p_lease_seconds: 60 })).data,
    ).toBe(false);
    expect(
      (await db.rpc('activate_voice_session', { p_session_id: waiting, p_lease_seconds: 60 })).data,
    ).toEqual({ ok: false, status: 'ended', reason: 'conversation_deleted' });
    const { data } = await db
      .from('voice_sessions')
      .select('id, status, end_reason, started_at, duration_seconds')
      .in('id', [live, waiting]);
    const byId = new Map((data ?? []).map((row) => [row.id, row]));
    expect(byId.get(live)).toMatchObject({ status: 'ended', end_reason: 'conversation_deleted' });
    expect(byId.get(live)?.started_at).toBeTruthy();
    // The call that never started costs nothing.
    expect(byId.get(waiting)).toMatchObject({
      status: 'ended',
      end_reason: 'conversation_deleted',
      started_at: null,
    });
    expect(Number(byId.get(waiting)?.duration_seconds)).toBe(0);
  });
});
