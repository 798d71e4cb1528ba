import { type DispatchMetadata, dispatchMetadataSchema, type Logger } from '@voice/core';
import { z } from 'zod';
import type { Database } from './database.ts';
import { dispatchWasTaken, isAgent, type LivekitRooms } from './livekit-rooms.ts';

/**
 * The dispatch watchdog. LiveKit tries an agent dispatch once: when no worker is free at that instant (every worker
 * at capacity, restarting, or none registered yet) it logs "no servers available" and the caller waits in a room
 * no agent will ever join. So every call whose caller has joined (the participant_joined webhook starts the watch,
 * see webhook.ts) is looked at until its agent arrives: when the room's dispatch found no worker, the agent is
 * dispatched again (LiveKit's AgentDispatch API), with backoff, until the join deadline; then the session ends with
 * end_reason 'agent_unavailable', its slot is free at once, and the room is closed with that reason in its
 * metadata, so the client can say so.
 *
 * Several instances: the watch state is in Postgres (voice_sessions.dispatch_check_at and friends, see
 * supabase/migrations/20261201140700_dispatch_watchdog.sql). Each instance polls `claim_due_dispatch_checks`, which
 * hands out each due check to exactly one instance (FOR UPDATE SKIP LOCKED) and pushes it HOLD_SECONDS ahead while
 * that instance works on it; an instance that dies mid-check loses nothing, another one takes it when the hold
 * runs out. Restarting every instance loses nothing either.
 *
 * A dispatch some worker accepted is never repeated: the job is starting (on a busy host a cold job process can take
 * a while) and a second one would put two agents in the room. The deadline still applies to it.
 */

/** How long one instance holds a claimed check (a check takes a few LiveKit API calls, each bounded at 5 s). */
const HOLD_SECONDS = 20;
const CHECKS_PER_POLL = 20;
/** Looks after a redispatch: 1, 2, 4, 8, 8 ... seconds, never past the deadline. */
const MAX_BACKOFF_SECONDS = 8;

/** Seconds until the next look at a session after `attempts` dispatches by the watchdog. */
export function nextCheckSeconds(attempts: number, secondsUntilDeadline: number): number {
  const backoff = Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.max(0, attempts - 1));
  // Look once more at the deadline itself (then the check gives up), but never spin.
  return Math.max(0.2, Math.min(backoff, secondsUntilDeadline));
}

const dueCheck = z.object({
  id: z.uuid(),
  room_name: z.string(),
  user_id: z.uuid(),
  conversation_id: z.uuid().nullable(),
  max_call_seconds: z.number().int().positive(),
  dispatch_attempts: z.number().int().min(0),
  agent_join_deadline: z.string(),
  past_deadline: z.boolean(),
});
type DueCheck = z.infer<typeof dueCheck>;

export type WatchdogOutcome =
  | 'agent_present'
  | 'dispatch_pending'
  | 'redispatched'
  | 'gave_up'
  | 'caller_gone'
  | 'room_gone'
  | 'conversation_deleted'
  | 'failed';

export interface DispatchWatchdog {
  start(): void;
  stop(): Promise<void>;
  /** One poll: claims due checks and runs them. Exposed for tests and for start(). */
  runOnce(): Promise<WatchdogOutcome[]>;
}

export function createDispatchWatchdog(options: {
  db: Database;
  rooms: LivekitRooms;
  agentName: string;
  pollMs: number;
  logger: Logger;
  onOutcome?: (outcome: WatchdogOutcome) => void;
}): DispatchWatchdog {
  const { db, rooms, agentName, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;
  let pollFailing = false;

  async function record(check: DueCheck, dispatched: boolean, nextSeconds: number | null): Promise<void> {
    await db.rpc('record_dispatch_check', {
      p_session_id: check.id,
      p_dispatched: dispatched,
      p_next_check_seconds: nextSeconds,
    });
  }

  async function end(check: DueCheck, reason: 'agent_unavailable' | 'conversation_deleted'): Promise<void> {
    // The slot first (that is what the caller pays for), then the room.
    await db.rpc('end_voice_session', { p_session_id: check.id, p_reason: reason });
    await rooms.close(check.room_name, reason).catch((error) => {
      logger.warn({ sessionId: check.id, err: String(error) }, 'dispatch watchdog: room not closed');
    });
  }

  async function check(session: DueCheck): Promise<WatchdogOutcome> {
    const participants = await rooms.participants(session.room_name);
    if (participants === undefined) {
      // The room closed: the caller left (the webhooks end the session).
      await record(session, false, null);
      return 'room_gone';
    }
    if (participants.some(isAgent)) {
      await record(session, false, null);
      return 'agent_present';
    }
    if (!participants.some((p) => p.identity === session.user_id)) {
      await record(session, false, null);
      return 'caller_gone';
    }
    if (session.past_deadline) {
      await end(session, 'agent_unavailable');
      return 'gave_up';
    }
    if (!session.conversation_id) {
      await end(session, 'conversation_deleted');
      return 'conversation_deleted';
    }

    const ours = (await rooms.dispatches(session.room_name)).filter((d) => d.agentName === agentName);
    const secondsLeft = (Date.parse(session.agent_join_deadline) - Date.now()) / 1000;
    if (ours.some(dispatchWasTaken)) {
      // A worker took the job; its agent is on the way.
      await record(session, false, nextCheckSeconds(session.dispatch_attempts, secondsLeft));
      return 'dispatch_pending';
    }
    // The dispatches so far found no worker and LiveKit will not try them again: replace them.
    for (const stale of ours) await rooms.removeDispatch(session.room_name, stale.id);
    const metadata: DispatchMetadata = dispatchMetadataSchema.parse({
      v: 1,
      session_id: session.id,
      user_id: session.user_id,
      conversation_id: session.conversation_id,
      max_call_seconds: session.max_call_seconds,
    });
    await rooms.dispatchAgent(session.room_name, agentName, JSON.stringify(metadata));
    await record(session, true, nextCheckSeconds(session.dispatch_attempts + 1, secondsLeft));
    logger.info(
      { sessionId: session.id, attempt: session.dispatch_attempts + 1 },
      'dispatch watchdog: agent dispatched again',
    );
    return 'redispatched';
  }

  async function checkSafely(session: DueCheck): Promise<WatchdogOutcome> {
    try {
      return await check(session);
    } catch (error) {
      // LiveKit or the database failed mid-check; the claim's hold brings the check back. Past the deadline the
      // slot is freed regardless (the room may stay until LiveKit's empty timeout).
      logger.warn({ sessionId: session.id, err: String(error) }, 'dispatch watchdog: check failed');
      if (session.past_deadline) {
        await db
          .rpc('end_voice_session', { p_session_id: session.id, p_reason: 'agent_unavailable' })
          .catch(() => undefined);
      }
      return 'failed';
    }
  }

  async function runOnce(): Promise<WatchdogOutcome[]> {
    let raw: unknown;
    try {
      raw = await db.rpc<unknown>('claim_due_dispatch_checks', {
        p_agent_name: agentName,
        p_limit: CHECKS_PER_POLL,
        p_hold_seconds: HOLD_SECONDS,
      });
      if (pollFailing) logger.info('dispatch watchdog: database reachable again');
      pollFailing = false;
    } catch (error) {
      // Logged once per outage, not once per poll.
      if (!pollFailing) logger.warn({ err: String(error) }, 'dispatch watchdog: cannot poll the database');
      pollFailing = true;
      return [];
    }
    const parsed = z.array(dueCheck).safeParse(raw);
    if (!parsed.success) {
      logger.error('dispatch watchdog: unexpected answer from claim_due_dispatch_checks');
      return [];
    }
    const outcomes = await Promise.all(parsed.data.map(checkSafely));
    for (const outcome of outcomes) {
      options.onOutcome?.(outcome);
      if (outcome === 'gave_up')
        logger.warn('dispatch watchdog: no agent joined by the deadline; call ended');
    }
    return outcomes;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        running = undefined;
        schedule();
      });
    }, options.pollMs);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
