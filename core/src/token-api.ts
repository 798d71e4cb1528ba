import { z } from 'zod';

/**
 * The token service's public contract, shared by the service, the web client and tests.
 * Request body: LiveKit's standard token-endpoint shape (all optional) plus `conversation_id`.
 * The client never chooses identity, room, grants or agent; those fields are accepted for SDK compatibility and
 * then either ignored (identity, room name) or checked (room_config must not name another agent).
 * Unknown top-level fields are accepted and dropped: LiveKit's SDKs add fields to this request over time, and an
 * SDK update must not break calls. The fields we know are validated.
 */
export const tokenRequestSchema = z.object({
  room_name: z.string().max(128).optional(),
  participant_identity: z.string().max(128).optional(),
  participant_name: z.string().max(128).optional(),
  participant_metadata: z.string().max(2048).optional(),
  participant_attributes: z.record(z.string().max(64), z.string().max(512)).optional(),
  room_config: z.record(z.string(), z.unknown()).optional(),
  /** Continue this conversation (must be the caller's); omitted → a new conversation is created. */
  conversation_id: z.uuid().optional(),
});
export type TokenRequest = z.infer<typeof tokenRequestSchema>;

export interface TokenResponse {
  server_url: string;
  participant_token: string;
  session_id: string;
  room_name: string;
  conversation_id: string;
  /** ISO time when the participant token stops being accepted for joining. */
  token_expires_at: string;
  /**
   * The join deadline: the agent joins within this many seconds of the caller connecting, or the service ends the
   * call (voice_sessions.end_reason 'agent_unavailable'), frees its slot and closes the room. A client need not
   * guess how long to wait: after this, plus a little for the room to close, the call is over.
   */
  agent_join_timeout_seconds: number;
  /** Limits as they stand after this call was granted. */
  limits: {
    max_call_seconds: number;
    concurrent_calls_max: number;
    concurrent_calls_in_use: number;
    monthly_minutes_max: number;
    monthly_minutes_used: number;
  };
}

export const TOKEN_ERROR_CODES = [
  'BAD_REQUEST',
  'UNAUTHENTICATED',
  'TIER_REQUIRED',
  'QUOTA_EXCEEDED',
  'CONVERSATION_NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'NOT_FOUND',
  'SESSION_LIMIT',
  'RATE_LIMITED',
  'VOICE_DISABLED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];

export interface ApiErrorBody {
  error: { code: TokenErrorCode; message: string; retry_after_seconds?: number };
}
