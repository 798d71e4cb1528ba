import type { SupabaseClient } from '@supabase/supabase-js';
import { throwIfFailed } from '../persistence/supabase-writes.ts';

/**
 * The session lifecycle SQL functions (supabase/migrations/20261125000300_voice_limits.sql), called with the
 * service role. Each throws when the database could not answer, so callers can tell "no" from "unknown".
 */
export type EndReason =
  | 'caller_left'
  | 'max_duration'
  | 'idle'
  | 'error'
  | 'shutdown'
  | 'room_finished'
  | 'conversation_deleted';

export interface ActivateResult {
  ok: boolean;
  status: string;
  reason: string | null;
}

export async function activateVoiceSession(
  db: SupabaseClient,
  sessionId: string,
  leaseSeconds: number,
): Promise<ActivateResult> {
  const { data, error } = await db.rpc('activate_voice_session', {
    p_session_id: sessionId,
    p_lease_seconds: leaseSeconds,
  });
  throwIfFailed(error, 'activate_voice_session');
  const result = (data ?? {}) as Partial<ActivateResult>;
  return {
    ok: result.ok === true,
    status: String(result.status ?? 'unknown'),
    reason: result.reason ?? null,
  };
}

/** false once the session has ended (by us, a webhook, or lease expiry). */
export async function renewVoiceSessionLease(
  db: SupabaseClient,
  sessionId: string,
  leaseSeconds: number,
): Promise<boolean> {
  const { data, error } = await db.rpc('renew_voice_session_lease', {
    p_session_id: sessionId,
    p_lease_seconds: leaseSeconds,
  });
  throwIfFailed(error, 'renew_voice_session_lease');
  return data === true;
}

export async function endVoiceSession(
  db: SupabaseClient,
  sessionId: string,
  reason: EndReason,
): Promise<{ ended: boolean; alreadyEnded: boolean }> {
  const { data, error } = await db.rpc('end_voice_session', { p_session_id: sessionId, p_reason: reason });
  throwIfFailed(error, 'end_voice_session');
  const result = (data ?? {}) as { ended?: boolean; already_ended?: boolean };
  return { ended: result.ended === true, alreadyEnded: result.already_ended === true };
}

/** Why a session ended (after a renewal said it had), or undefined when unknown. */
export async function voiceSessionEndReason(
  db: SupabaseClient,
  sessionId: string,
): Promise<string | undefined> {
  const { data, error } = await db
    .from('voice_sessions')
    .select('end_reason')
    .eq('id', sessionId)
    .maybeSingle();
  throwIfFailed(error, 'read end_reason');
  return (data as { end_reason: string | null } | null)?.end_reason ?? undefined;
}
