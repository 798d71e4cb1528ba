import { randomUUID } from 'node:crypto';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The dispatch watchdog's state in Postgres, as several token-service instances share it: each due check goes to
// exactly one instance at a time, a check an instance took and never finished comes back after its hold, and
// sessions of another agent are never handed out.
const stack = testStack();
const db = serviceClient(stack);
const AGENT = `watchdog-state-${randomUUID().slice(0, 8)}`;
let pool: pg.Pool;
let userId: string;
let conversationId: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 4 });
  const user = await createTestUser(stack, { tier: 'studio' });
  userId = user.id;
  const { data } = await db.from('conversations').insert({ user_id: userId }).select('id').single();
  conversationId = data!.id;
});
afterAll(async () => {
  await pool?.end();
});

async function pendingSession(): Promise<string> {
  const id = randomUUID();
  const { error } = await db.from('voice_sessions').insert({
    id,
    user_id: userId,
    conversation_id: conversationId,
    room_name: `voice-${id}`,
    expires_at: new Date(Date.now() + 120_000).toISOString(),
    max_call_seconds: 600,
  });
  if (error) throw new Error(error.message);
  return id;
}

async function watch(id: string, agent = AGENT, firstCheck = 0.01, timeout = 30) {
  const { data, error } = await db.rpc('watch_voice_session_dispatch', {
    p_session_id: id,
    p_agent_name: agent,
    p_first_check_seconds: firstCheck,
    p_join_timeout_seconds: timeout,
  });
  if (error) throw new Error(error.message);
  return data as { watching: boolean; status: string };
}

async function claim(agent = AGENT, hold = 20): Promise<{ id: string; past_deadline: boolean }[]> {
  const { rows } = await pool.query<{ r: { id: string; past_deadline: boolean }[] }>(
    'select public.claim_due_dispatch_checks($1, 50, $2) as r',
    [agent, hold],
  );
  return rows[0]?.r ?? [];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('dispatch watchdog state', () => {
  it('starts a watch once per session, stretching its lease to the deadline', async () => {
    const id = await pendingSession();
    expect(await watch(id)).toMatchObject({ watching: true, status: 'pending' });
    // A second delivery of the webhook, or a reconnect, changes nothing.
    expect(await watch(id)).toMatchObject({ watching: false, status: 'pending' });
    const { data } = await db
      .from('voice_sessions')
      .select('agent_name, caller_joined_at, agent_join_deadline, expires_at')
      .eq('id', id)
      .single();
    expect(data?.agent_name).toBe(AGENT);
    expect(Date.parse(data!.expires_at)).toBeGreaterThanOrEqual(Date.parse(data!.agent_join_deadline));
  });

  it('hands each due check to one instance only, even when instances ask at the same moment', async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, () => pendingSession()));
    for (const id of ids) await watch(id);
    await sleep(50);
    const [a, b, c] = await Promise.all([claim(), claim(), claim()]);
    const all = [...a!, ...b!, ...c!].map((r) => r.id).filter((id) => ids.includes(id));
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(all)).toEqual(new Set(ids));
    // Held: nobody gets them again while the instance works on them.
    expect((await claim()).filter((r) => ids.includes(r.id))).toEqual([]);
  });

  it('gives a check that an instance never finished to another one once its hold has run out', async () => {
    const id = await pendingSession();
    await watch(id);
    await sleep(50);
    expect((await claim(AGENT, 1)).map((r) => r.id)).toContain(id);
    expect((await claim(AGENT, 1)).map((r) => r.id)).not.toContain(id);
    await sleep(1_200);
    expect((await claim(AGENT, 1)).map((r) => r.id)).toContain(id);
  });

  it("never hands out another agent's sessions, nor sessions no longer pending, and reports the deadline", async () => {
    const other = await pendingSession();
    await watch(other, `${AGENT}-other`);
    const activated = await pendingSession();
    await watch(activated);
    await db.rpc('activate_voice_session', { p_session_id: activated, p_lease_seconds: 60 });
    const late = await pendingSession();
    await watch(late, AGENT, 0.01, 1);
    await sleep(1_200);
    const claimed = await claim();
    expect(claimed.map((r) => r.id)).not.toContain(other);
    expect(claimed.map((r) => r.id)).not.toContain(activated);
    expect(claimed.find((r) => r.id === late)?.past_deadline).toBe(true);
    // The outcome of a check ends the watch or schedules the next look.
    await pool.query('select public.record_dispatch_check($1, true, null)', [late]);
    const { data } = await db
      .from('voice_sessions')
      .select('dispatch_attempts, dispatch_check_at')
      .eq('id', late)
      .single();
    expect(data).toEqual({ dispatch_attempts: 1, dispatch_check_at: null });
  });

  it("is the service role's alone", async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const { error } = await user.client.rpc('claim_due_dispatch_checks', {
      p_agent_name: AGENT,
      p_limit: 10,
      p_hold_seconds: 10,
    });
    expect(error).not.toBeNull();
  });
});
