import type { JobRequest } from '@livekit/agents';
import type { SupabaseClient } from '@supabase/supabase-js';
import { type Logger, parseDispatchMetadata } from '@voice/core';

/**
 * Whether the worker takes a job, decided in the worker process when LiveKit offers it (ServerOptions.requestFunc)
 * and so before a job process connects to the room or makes any provider request (the greeting is synthesised as
 * soon as a job starts, and that is a paid request).
 *
 * Refused: a dispatch without our metadata (only the token service dispatches with it), and a session that is over.
 * A participant token stays valid for a while after its call ended, and rejoining with it re-creates the room and
 * LiveKit dispatches the agent again; the token service closes such a room (webhook.ts), and this makes sure no
 * agent starts in it meanwhile. A refused job goes to no other worker of ours either: each one refuses it.
 *
 * When the database does not answer in time the job is taken: the token service granted this call, and the job
 * activates the session itself (activate_voice_session) and leaves if it is over.
 */
export type Admission =
  | { accept: true; sessionId: string; unverified?: boolean }
  | { accept: false; reason: 'invalid_dispatch' | 'session_unknown' | 'session_ended' | 'lease_expired' };

/** How long the worker may take to answer LiveKit (livekit-server gives a worker 10 s). */
const LOOKUP_TIMEOUT_MS = 3_000;
/** Clock difference tolerated between this host and the database when reading a lease. */
const CLOCK_SKEW_MS = 5_000;

export async function admitJob(
  db: SupabaseClient,
  jobMetadata: string | undefined,
  now: () => number = Date.now,
): Promise<Admission> {
  const meta = parseDispatchMetadata(jobMetadata);
  if (!meta) return { accept: false, reason: 'invalid_dispatch' };
  let result: { data: { status: string; expires_at: string } | null; error: unknown };
  try {
    result = await db
      .from('voice_sessions')
      .select('status, expires_at')
      .eq('id', meta.session_id)
      .abortSignal(AbortSignal.timeout(LOOKUP_TIMEOUT_MS))
      .maybeSingle();
  } catch {
    return { accept: true, sessionId: meta.session_id, unverified: true };
  }
  if (result.error) return { accept: true, sessionId: meta.session_id, unverified: true };
  const session = result.data;
  if (!session) return { accept: false, reason: 'session_unknown' };
  if (session.status === 'ended') return { accept: false, reason: 'session_ended' };
  if (Date.parse(session.expires_at) < now() - CLOCK_SKEW_MS)
    return { accept: false, reason: 'lease_expired' };
  return { accept: true, sessionId: meta.session_id };
}

/** What the capacity check needs of the worker: the jobs its processes are running. */
export interface RunningJobs {
  readonly activeJobs: ReadonlyArray<{ job: { id: string } }>;
}

/**
 * The worker's call cap (AGENT_MAX_CONCURRENT_CALLS), enforced when a job is offered. The load the worker reports
 * to LiveKit keeps dispatch away from a full worker, but it is reported only every 2.5 s: two calls arriving within
 * that window both found the worker "available", and a worker capped at one call took both. A job refused here goes
 * back to LiveKit, which offers it to another worker, and the token service's dispatch watchdog dispatches it again
 * later if none took it.
 */
export class JobCapacity {
  /** Jobs this worker accepted that its processes may not be running yet (job id → when accepted). */
  readonly #accepted = new Map<string, number>();
  #worker: RunningJobs | undefined;
  // Plain fields, not parameter properties: agent/src is erasable-only TypeScript (tsconfig.job.json).
  private readonly maxCalls: number;
  private readonly now: () => number;

  constructor(maxCalls: number, now: () => number = Date.now) {
    this.maxCalls = maxCalls;
    this.now = now;
  }

  /** The worker whose running jobs count; called with each load report (every 2.5 s). */
  observe(worker: RunningJobs): void {
    this.#worker = worker;
    this.#running();
  }

  /** Takes a slot for the job, or says the worker is full. */
  reserve(jobId: string): boolean {
    const running = this.#running();
    if (running.size + this.#accepted.size >= this.maxCalls) return false;
    this.#accepted.set(jobId, this.now());
    return true;
  }

  /**
   * The jobs running now. A job counts once: as accepted until a process runs it, then as running (and not at all
   * once it ended). One that never started (its assignment was lost) stops holding a slot after a while.
   */
  #running(): Set<string> {
    const running = new Set((this.#worker?.activeJobs ?? []).map((j) => j.job.id));
    for (const [id, acceptedAt] of this.#accepted) {
      if (running.has(id) || this.now() - acceptedAt > ACCEPTED_JOB_HOLD_MS) this.#accepted.delete(id);
    }
    return running;
  }
}

/**
 * How long an accepted job holds its slot before a process runs it. Launching takes an idle warmed process, normally
 * within a second; on a saturated host starting one can take much longer, and the running count takes over then.
 */
const ACCEPTED_JOB_HOLD_MS = 30_000;

/** The worker's requestFunc: admits or refuses each job LiveKit offers. */
export function jobRequestHandler(options: {
  db: SupabaseClient;
  logger: Logger;
  /** The worker's call cap; without it, only LiveKit's load-based dispatch limits the worker. */
  capacity?: JobCapacity;
  /**
   * Whether the configured models are usable (ModelStatus): while one the call needs is shut down or missing at
   * the provider, every job is refused before anything is spent on it (LiveKit offers it to another worker).
   */
  models?: () => { ready: boolean; reasons: string[] };
}): (request: JobRequest) => Promise<void> {
  return async (request) => {
    const models = options.models?.();
    if (models && !models.ready) {
      options.logger.warn(
        { jobId: request.id, room: request.room?.name, reason: 'model_unavailable', models: models.reasons },
        'job refused',
      );
      await request.reject();
      return;
    }
    const started = performance.now();
    const admission = await admitJob(options.db, request.job.metadata);
    // What the check adds to call setup (one indexed read through PostgREST).
    const admissionMs = Math.round(performance.now() - started);
    const room = request.room?.name;
    if (!admission.accept) {
      options.logger.info({ jobId: request.id, room, reason: admission.reason, admissionMs }, 'job refused');
      await request.reject();
      return;
    }
    if (options.capacity && !options.capacity.reserve(request.job.id)) {
      options.logger.info({ jobId: request.id, room, reason: 'worker_full', admissionMs }, 'job refused');
      await request.reject();
      return;
    }
    if (admission.unverified) {
      options.logger.warn(
        { jobId: request.id, room, sessionId: admission.sessionId, admissionMs },
        'job taken without checking its session (database did not answer)',
      );
    } else {
      options.logger.info({ jobId: request.id, room, admissionMs }, 'job admitted');
    }
    await request.accept();
  };
}
