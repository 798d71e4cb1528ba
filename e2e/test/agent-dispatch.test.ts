import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { DisconnectReason, RoomEvent } from '@livekit/rtc-node';
import type { TokenResponse } from '@voice/core';
import { startAgentWorkerProcess } from '@voice/devstack/services/agent-worker';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHRASES } from '../../agent/src/session/phrases.ts';
import { sleep } from '../src/agent-speech.ts';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import { endedSession, prepareDialogue, report, waitFor } from '../src/call-scenario.ts';
import { ScriptedCaller } from '../src/scripted-caller.ts';
import { startWebhookedCalls, type WebhookedCalls } from '../src/webhooked-livekit.ts';

// Calls that find no agent at first, and calls that must not bring one back: the dispatch watchdog, the worker's
// capacity, the worker refusing jobs of ended sessions, and a conversation deleted mid-call. Real livekit-server
// (its webhooks drive the token service), real agent worker processes, callers over real WebRTC, provider stand-ins.
const base = testStack();
const db = serviceClient(base);
const AGENT = `voice-agent-dispatch-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello, I am here now.';

let standins: ProviderStandins;
let calls: WebhookedCalls;
let worker: RunningAgentWorker | undefined;

beforeAll(async () => {
  standins = await startProviderStandins();
  calls = await startWebhookedCalls(base, {
    AGENT_NAME: AGENT,
    VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
    // Long enough for a worker process to start on a loaded 2-core machine.
    VOICE_AGENT_JOIN_TIMEOUT_SECONDS: '150',
    VOICE_DISPATCH_FIRST_CHECK_SECONDS: '2',
    VOICE_ROOM_DEPARTURE_TIMEOUT_SECONDS: '1',
  });
});
afterAll(async () => {
  await worker?.stop();
  await calls?.close();
  await standins?.stop();
});

async function sessionRow(id: string) {
  const { data } = await db.from('voice_sessions').select('*').eq('id', id).single();
  return data as Record<string, unknown> & { status: string; end_reason: string | null };
}

/**
 * The dispatches LiveKit holds for the room, and whether a worker took any of them. A job a worker refused (or that
 * found no worker) may still be listed; a taken one names the agent participant the worker accepted it as.
 */
async function dispatchState(calls: WebhookedCalls, room: string) {
  const dispatches = await calls.dispatches.listDispatch(room);
  const taken = dispatches.some((d) =>
    d.state?.jobs.some((j) => (j.state?.participantIdentity ?? '') !== ''),
  );
  return { count: dispatches.length, taken };
}

async function join(grant: TokenResponse): Promise<ScriptedCaller> {
  const caller = new ScriptedCaller();
  await caller.join(grant.server_url, grant.participant_token);
  return caller;
}

function jobsAssigned(w: RunningAgentWorker): number {
  return w.log().match(/"msg":"job assigned"/g)?.length ?? 0;
}

describe('a call whose first dispatch found no agent', () => {
  it('the worker started only after the caller joined: the watchdog dispatches again and the agent joins', async () => {
    const user = await createTestUser(base, { tier: 'studio' });
    const grant = await calls.tokens.issue(user.accessToken, {});
    expect(grant.agent_join_timeout_seconds).toBe(150);
    const caller = await join(grant);
    try {
      // LiveKit tried the dispatch once, found no worker, and will not try again by itself.
      await waitFor('the first dispatch', async () => {
        const state = await dispatchState(calls, grant.room_name);
        return state.count > 0 ? state : undefined;
      });
      expect((await dispatchState(calls, grant.room_name)).taken).toBe(false);

      const startedAt = Date.now();
      worker = await startAgentWorker(calls.stack, standins, {
        agentName: AGENT,
        // One call at a time, so the next test can fill it; a short lease so renewals come often.
        env: { AGENT_GREETING: GREETING, AGENT_MAX_CONCURRENT_CALLS: '1', AGENT_LEASE_SECONDS: '15' },
      });
      const greeting = await caller.waitForSpeech(startedAt, 150_000);
      report(
        `[agent-dispatch] late worker: greeting heard ${greeting.startedAt - startedAt} ms after it started`,
      );
      const row = await sessionRow(grant.session_id);
      expect(row.status).toBe('active');
      expect(Number(row.dispatch_attempts)).toBeGreaterThanOrEqual(1);
    } finally {
      await caller.hangUp();
    }
    await endedSession(base, grant.session_id);
  }, 300_000);

  it('the worker was full: once it has room, the watchdog dispatches again and the agent joins', async () => {
    if (!worker) throw new Error('needs the worker of the previous test');
    const [first, second] = await Promise.all([
      createTestUser(base, { tier: 'studio' }),
      createTestUser(base, { tier: 'studio' }),
    ]);
    const firstGrant = await calls.tokens.issue(first.accessToken, {});
    const firstCaller = await join(firstGrant);
    const secondGrant = await calls.tokens.issue(second.accessToken, {});
    let secondCaller: ScriptedCaller | undefined;
    // Both callers hang up whatever happens: a call left up holds the worker's only slot, and every later test
    // would find no agent.
    try {
      const joinedAt = Date.now();
      await firstCaller.waitForSpeech(joinedAt, 60_000);
      secondCaller = await join(secondGrant);
      // The only worker is at capacity (1 call): LiveKit does not dispatch to it, or the worker refuses the job
      // when it is offered before its load report went out.
      await waitFor('the refused dispatch', async () => {
        const state = await dispatchState(calls, secondGrant.room_name);
        return state.count > 0 ? state : undefined;
      });
      await sleep(3_000);
      expect((await dispatchState(calls, secondGrant.room_name)).taken).toBe(false);
      expect((await sessionRow(secondGrant.session_id)).status).toBe('pending');

      const freedAt = Date.now();
      await firstCaller.hangUp();
      const greeting = await secondCaller.waitForSpeech(freedAt, 90_000);
      report(
        `[agent-dispatch] full worker: greeting heard ${greeting.startedAt - freedAt} ms after a slot freed`,
      );
      const row = await sessionRow(secondGrant.session_id);
      expect(row.status).toBe('active');
      expect(Number(row.dispatch_attempts)).toBeGreaterThanOrEqual(1);
    } finally {
      await firstCaller.hangUp().catch(() => undefined);
      await secondCaller?.hangUp().catch(() => undefined);
    }
    await endedSession(base, secondGrant.session_id);
  }, 240_000);
});

describe('after a call has ended', () => {
  it('rejoining with its still-valid token starts no job and no provider request, and the room does not stay up', async () => {
    if (!worker) throw new Error('needs the worker of the first test');
    const user = await createTestUser(base, { tier: 'studio' });
    const grant = await calls.tokens.issue(user.accessToken, {});
    const caller = await join(grant);
    await caller.waitForSpeech(Date.now() - 1_000, 60_000);
    await caller.hangUp();
    expect((await endedSession(base, grant.session_id)).end_reason).toBe('caller_left');
    await waitFor('the room to close', async () =>
      (await calls.rooms.listRooms([grant.room_name])).length === 0 ? true : undefined,
    );
    // The worker is free again (its job for this call finished) and has told LiveKit so (it reports its load every
    // 2.5 s): a job refused now is refused for the session, not for want of capacity.
    await waitFor(
      'the job to finish',
      async () => ((await worker!.activeJobs()) === 0 ? true : undefined),
      60_000,
    );
    await sleep(4_000);

    standins.reset();
    const assignedBefore = jobsAssigned(worker);
    const again = new ScriptedCaller();
    const disconnected = new Promise<number | undefined>((resolve) =>
      again.room.once(RoomEvent.Disconnected, (reason) => resolve(reason)),
    );
    const outcome = await again.join(grant.server_url, grant.participant_token).then(
      () => Promise.race([disconnected, sleep(20_000).then(() => 'still connected' as const)]),
      () => 'connect failed' as const,
    );
    await again.hangUp().catch(() => undefined);
    expect([DisconnectReason.ROOM_DELETED, 'connect failed']).toContain(outcome);
    await sleep(5_000);
    expect(await calls.rooms.listRooms([grant.room_name])).toEqual([]);
    expect(jobsAssigned(worker)).toBe(assignedBefore);
    // No provider was reached: no speech engine (the Realtime API session opens as soon as a job starts), no
    // Claude, no speech recognition.
    expect(standins.recorded.realtime).toEqual([]);
    expect(standins.recorded.speak).toEqual([]);
    expect(standins.recorded.tts).toEqual([]);
    expect(standins.recorded.llm).toEqual([]);
    expect(standins.recorded.stt).toEqual([]);
    expect((await sessionRow(grant.session_id)).end_reason).toBe('caller_left');
    report(
      `[agent-dispatch] rejoin after end: ${/"msg":"job refused"/.test(worker.log()) ? 'the worker refused the job' : 'the room closed before a job was offered'}`,
    );
  }, 180_000);
});

describe('a conversation deleted during its call', () => {
  it('the agent says goodbye and hangs up; nothing is written into nothing and no write is retried', async () => {
    if (!worker) throw new Error('needs the worker of the first test');
    const dialogue = await prepareDialogue(standins, ['What is the capital of France?'], ['Paris.']);
    const user = await createTestUser(base, { tier: 'studio' });
    const grant = await calls.tokens.issue(user.accessToken, {});
    const caller = await join(grant);
    const roomClosed = new Promise<number | undefined>((resolve) =>
      caller.room.once(RoomEvent.Disconnected, (reason) => resolve(reason)),
    );
    try {
      await caller.waitForSpeech(Date.now() - 1_000, 60_000);
      await caller.waitForQuiet(1_000);
      const deletedAt = Date.now();
      const deleted = await user.client
        .from('conversations')
        .delete()
        .eq('id', grant.conversation_id)
        .select('id');
      expect(deleted.data).toHaveLength(1);

      // The agent learns of the deletion from the failed write of this question, or from its next lease renewal
      // if that comes first (then the goodbye may start before the question does): listen from the deletion on.
      await caller.speak(dialogue.clips[0]!);
      await caller.waitForSpeech(deletedAt, 30_000);
      expect(await Promise.race([roomClosed, sleep(60_000).then(() => 'still in the room')])).toBe(
        DisconnectReason.ROOM_DELETED,
      );
    } finally {
      await caller.hangUp().catch(() => undefined);
    }
    const row = await endedSession(base, grant.session_id);
    expect(row.end_reason).toBe('conversation_deleted');
    expect(row.conversation_id).toBeNull();
    // The goodbye was spoken (sentence by sentence, by whichever speech engine the worker runs).
    const spoken = [
      ...standins.recorded.realtime.flatMap((c) => c.responses.map((r) => r.text)),
      ...standins.recorded.speak.flatMap((c) => c.texts),
      ...standins.recorded.tts.map((r) => r.input ?? ''),
    ].join(' ');
    expect(spoken).toContain(PHRASES.conversationDeleted.split(',')[0]);
    // The call's usage is still recorded; no message row exists for the deleted conversation.
    const usage = await waitFor('the final usage row', async () => {
      const { data } = await db
        .from('usage_logs')
        .select('metadata')
        .eq('user_id', user.id)
        .eq('metadata->>session_id', grant.session_id);
      return data?.[0]?.metadata?.final === true ? data : undefined;
    });
    expect(usage).toHaveLength(1);
    const { count } = await db
      .from('messages')
      .select('id', { count: 'exact', head: true })
      .eq('conversation_id', grant.conversation_id);
    expect(count).toBe(0);
    const retries = worker
      .log()
      .split('\n')
      .filter((line) => line.includes(grant.session_id) && line.includes('write failed; retrying'));
    expect(retries).toEqual([]);
  }, 180_000);
});

describe('no agent at all', () => {
  it('ends the call agent_unavailable at the deadline, frees the slot at once and tells the client', async () => {
    const lonely = await startWebhookedCalls(base, {
      AGENT_NAME: `nobody-${randomUUID().slice(0, 8)}`,
      VOICE_MAX_CONCURRENT_SESSIONS: '1',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
      VOICE_AGENT_JOIN_TIMEOUT_SECONDS: '8',
      VOICE_DISPATCH_FIRST_CHECK_SECONDS: '2',
    });
    try {
      const user = await createTestUser(base, { tier: 'studio' });
      const grant = await lonely.tokens.issue(user.accessToken, {});
      expect(grant.agent_join_timeout_seconds).toBe(8);
      const caller = await join(grant);
      const metadata = new Promise<string>((resolve) =>
        caller.room.once(RoomEvent.RoomMetadataChanged, (value) => resolve(value)),
      );
      const disconnected = new Promise<number | undefined>((resolve) =>
        caller.room.once(RoomEvent.Disconnected, (reason) => resolve(reason)),
      );
      try {
        // While the caller waits, the slot is theirs.
        await expect(lonely.tokens.issue(user.accessToken, {})).rejects.toThrow(/SESSION_LIMIT/);
        expect(await Promise.race([disconnected, sleep(60_000).then(() => 'still waiting')])).toBe(
          DisconnectReason.ROOM_DELETED,
        );
        expect(JSON.parse(await metadata)).toEqual({ end_reason: 'agent_unavailable' });
      } finally {
        await caller.hangUp().catch(() => undefined);
      }
      const row = await sessionRow(grant.session_id);
      expect(row).toMatchObject({ status: 'ended', end_reason: 'agent_unavailable', started_at: null });
      expect(Number(row.duration_seconds)).toBe(0);
      expect(Number(row.dispatch_attempts)).toBeGreaterThanOrEqual(1);
      // Ended at the deadline (give or take the watchdog's poll), not at the end of the 120 s lease.
      const late = (Date.parse(String(row.ended_at)) - Date.parse(String(row.agent_join_deadline))) / 1000;
      report(`[agent-dispatch] no agent: session ended ${late.toFixed(1)} s after the join deadline`);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThan(10);
      // The slot is free at once: the next call is granted.
      expect((await lonely.tokens.issue(user.accessToken, {})).session_id).toBeTruthy();
    } finally {
      await lonely.close();
    }
  }, 120_000);
});

describe('a call placed while both cores are busy', () => {
  it('is taken by an idle worker configured as `npm start` configures it', async () => {
    // Another token service and livekit-server for this worker alone, so the worker above cannot take the call.
    const agentName = `voice-agent-busy-${randomUUID().slice(0, 8)}`;
    const busy = await startWebhookedCalls(base, {
      AGENT_NAME: agentName,
      VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
      VOICE_AGENT_JOIN_TIMEOUT_SECONDS: '90',
    });
    const npmStartWorker = await startAgentWorkerProcess(busy.stack, base.logDir, {
      logName: `agent-${agentName}.log`,
      quiet: true,
      env: {
        AGENT_NAME: agentName,
        AGENT_HEALTH_PORT: '0',
        AGENT_METRICS_PORT: '0',
        AGENT_GREETING: GREETING,
        LOG_LEVEL: 'info',
      },
    });
    const burners: ChildProcess[] = [];
    try {
      // Every core at 100 % for the rest of the test, as a busy shared host is.
      for (let i = 0; i < availableParallelism(); i++) {
        burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
      }
      // The worker reports its load every few seconds: let it see the busy machine before the call.
      await sleep(6_000);
      const user = await createTestUser(base, { tier: 'studio' });
      const grant = await busy.tokens.issue(user.accessToken, {});
      const caller = await join(grant);
      const joinedAt = Date.now();
      try {
        const greeting = await caller.waitForSpeech(joinedAt, 90_000);
        report(
          `[agent-dispatch] busy host: greeting heard ${greeting.startedAt - joinedAt} ms after joining`,
        );
        expect((await sessionRow(grant.session_id)).status).toBe('active');
      } finally {
        await caller.hangUp();
      }
    } finally {
      for (const burner of burners) burner.kill('SIGKILL');
      await npmStartWorker.stop();
      await busy.close();
    }
  }, 300_000);
});
