import type { ApiErrorBody, TokenErrorCode, TokenRequest, TokenResponse } from '@voice/core/token-api';

/**
 * Asks the token service for a call (POST {tokenServiceUrl}/v1/token, LiveKit's standard token-endpoint body plus
 * `conversation_id`). Kept separate from LiveKit so its error mapping is testable without a browser.
 *
 * Why not `TokenSource.endpoint` directly: in livekit-client 2.23 it serialises a fixed protobuf request (no room for
 * `conversation_id`), drops every response field beyond server_url/participant_token (we need the session and its
 * limits) and turns error bodies into an opaque string. We wrap this function in `TokenSource.custom` instead, so the
 * Room still receives a standard TokenSource, over the same HTTP contract.
 */

export type CallTokenFailure =
  | {
      kind: 'rejected';
      status: number;
      code: TokenErrorCode | 'UNKNOWN';
      message: string;
      retryAfterSeconds?: number;
    }
  | { kind: 'unreachable'; message: string };

export class CallTokenError extends Error {
  override readonly name = 'CallTokenError';
  constructor(readonly failure: CallTokenFailure) {
    super(failure.kind === 'rejected' ? `${failure.status} ${failure.code}` : failure.message);
  }
}

export interface RequestCallTokenOptions {
  tokenServiceUrl: string;
  accessToken: string;
  conversationId?: string;
  /** Display name the agent may use; identity and room are always chosen by the server. */
  participantName?: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  signal?: AbortSignal;
}

function parseRetryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function isTokenResponse(body: unknown): body is TokenResponse {
  const b = body as Partial<TokenResponse> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.server_url === 'string' &&
    typeof b.participant_token === 'string' &&
    typeof b.session_id === 'string'
  );
}

export async function requestCallToken(options: RequestCallTokenOptions): Promise<TokenResponse> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const body: TokenRequest = {};
  if (options.conversationId) body.conversation_id = options.conversationId;
  if (options.participantName) body.participant_name = options.participantName.slice(0, 128);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

  let response: Response;
  try {
    response = await fetchImpl(`${options.tokenServiceUrl}/v1/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${options.accessToken}` },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new CallTokenError({ kind: 'unreachable', message: (error as Error).message || 'network error' });
  }

  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch {
    parsed = undefined;
  }
  if (response.ok && isTokenResponse(parsed)) return parsed;

  const apiError = (parsed as Partial<ApiErrorBody> | undefined)?.error;
  if (!response.ok && apiError && typeof apiError.code === 'string') {
    const retryAfterSeconds =
      apiError.retry_after_seconds ?? parseRetryAfter(response.headers.get('retry-after'));
    throw new CallTokenError({
      kind: 'rejected',
      status: response.status,
      code: apiError.code,
      message: typeof apiError.message === 'string' ? apiError.message : '',
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  }
  // A proxy error page or a half-deployed service: the service is, for the user, not reachable.
  if (response.status >= 502 && response.status <= 504) {
    throw new CallTokenError({ kind: 'unreachable', message: `token service answered ${response.status}` });
  }
  throw new CallTokenError({
    kind: 'rejected',
    status: response.status,
    code: 'UNKNOWN',
    message: `unexpected answer ${response.status}`,
  });
}
