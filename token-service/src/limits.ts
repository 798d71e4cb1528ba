import { z } from 'zod';
import type { Database } from './database.ts';
import { ApiError, DatabaseUnavailableError } from './errors.ts';

/**
 * The limits decision for one token request. Everything (kill switch, tier, conversation ownership, concurrent
 * sessions, issuance rate, monthly minutes, and recording the new session with its lease) happens in ONE SQL
 * function, `claim_voice_session`, under a per-user advisory lock: any number of token-service instances and
 * simultaneous requests still grant exactly the limit, and a denied request leaves no rows behind.
 */
export interface ClaimLimits {
  maxConcurrentSessions: number;
  maxIssuancesPerMinute: number;
  monthlyMinutes: number;
  maxCallSeconds: number;
}

export interface ClaimRequest {
  userId: string;
  sessionId: string;
  roomName: string;
  conversationId?: string;
  limits: ClaimLimits;
  leaseSeconds: number;
}

const grantedSession = z.object({
  id: z.uuid(),
  room_name: z.string(),
  conversation_id: z.uuid(),
  expires_at: z.string(),
  max_call_seconds: z.number().int().positive(),
});

const claimResult = z.object({
  code: z.enum([
    'OK',
    'VOICE_DISABLED',
    'TIER_REQUIRED',
    'CONVERSATION_NOT_FOUND',
    'SESSION_LIMIT',
    'RATE_LIMITED',
    'QUOTA_EXCEEDED',
  ]),
  retry_after_seconds: z.number().optional(),
  tier: z.string(),
  concurrent_in_use: z.number(),
  concurrent_max: z.number(),
  issued_last_minute: z.number(),
  monthly_seconds_used: z.number(),
  monthly_seconds_max: z.number(),
  session: grantedSession.optional(),
});
export type ClaimResult = z.infer<typeof claimResult>;

export interface GrantedClaim {
  session: z.infer<typeof grantedSession>;
  concurrentInUse: number;
  concurrentMax: number;
  monthlySecondsUsed: number;
  monthlySecondsMax: number;
}

/** Seconds a client should wait when voice is switched off (flags are flipped by operators, not by the minute). */
export const VOICE_DISABLED_RETRY_AFTER_SECONDS = 60;

export async function claimVoiceSession(db: Database, request: ClaimRequest): Promise<GrantedClaim> {
  const raw = await db.rpc<unknown>('claim_voice_session', {
    p_user_id: request.userId,
    p_session_id: request.sessionId,
    p_room_name: request.roomName,
    p_conversation_id: request.conversationId ?? null,
    p_max_concurrent: request.limits.maxConcurrentSessions,
    p_max_per_minute: request.limits.maxIssuancesPerMinute,
    p_monthly_minutes: request.limits.monthlyMinutes,
    p_max_call_seconds: request.limits.maxCallSeconds,
    p_lease_seconds: request.leaseSeconds,
  });
  const parsed = claimResult.safeParse(raw);
  if (!parsed.success) {
    // The database answered something this code does not understand (a migration out of step): not the caller's
    // fault and not safe to grant.
    throw new DatabaseUnavailableError('claim_voice_session', 'unexpected result shape');
  }
  return toGrantOrThrow(parsed.data);
}

/** Maps the SQL decision to a grant or the API error the caller sees. Pure, so the mapping is unit-tested. */
export function toGrantOrThrow(result: ClaimResult): GrantedClaim {
  switch (result.code) {
    case 'OK':
      if (!result.session) throw new DatabaseUnavailableError('claim_voice_session', 'OK without a session');
      return {
        session: result.session,
        concurrentInUse: result.concurrent_in_use,
        concurrentMax: result.concurrent_max,
        monthlySecondsUsed: result.monthly_seconds_used,
        monthlySecondsMax: result.monthly_seconds_max,
      };
    case 'VOICE_DISABLED':
      throw voiceDisabled();
    case 'TIER_REQUIRED':
      throw new ApiError(
        403,
        'TIER_REQUIRED',
        'Voice calls are part of the Studio plan. Upgrade to Studio to start a call.',
      );
    case 'CONVERSATION_NOT_FOUND':
      throw new ApiError(
        404,
        'CONVERSATION_NOT_FOUND',
        'That conversation does not exist or is not yours. Start a new call without conversation_id.',
      );
    case 'SESSION_LIMIT':
      throw new ApiError(
        429,
        'SESSION_LIMIT',
        `You already have ${result.concurrent_max} calls open. End one, or try again in a moment.`,
        result.retry_after_seconds ?? 1,
      );
    case 'RATE_LIMITED':
      throw new ApiError(
        429,
        'RATE_LIMITED',
        'Too many call attempts in the last minute. Wait a moment and try again.',
        result.retry_after_seconds ?? 1,
      );
    case 'QUOTA_EXCEEDED':
      throw new ApiError(
        403,
        'QUOTA_EXCEEDED',
        'You have used all voice minutes for this month. They renew on the 1st (UTC).',
        result.retry_after_seconds,
      );
  }
}

export function voiceDisabled(): ApiError {
  return new ApiError(
    503,
    'VOICE_DISABLED',
    'Voice calls are switched off right now. Text chat still works; try calling again later.',
    VOICE_DISABLED_RETRY_AFTER_SECONDS,
  );
}
