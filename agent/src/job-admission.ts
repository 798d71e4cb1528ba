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

/** The worker's requestFunc: admits or refuses each job LiveKit offers. */
export function jobRequestHandler(options: {
  db: SupabaseClient;
  logger: Logger;
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
