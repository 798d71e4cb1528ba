import type { Logger, TokenErrorCode } from '@voice/core';
import type { FastifyReply } from 'fastify';

/**
 * An error the service answers with `{"error":{"code","message"}}`. Anything a client can cause is one of these
 * (4xx); dependency failures are 503 UNAVAILABLE. Messages tell the caller what to do and never echo secrets,
 * tokens or internals.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: TokenErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The database (PostgREST/Postgres) did not answer usefully; the request may be retried later. */
export class DatabaseUnavailableError extends Error {
  constructor(
    readonly operation: string,
    readonly detail: string,
  ) {
    super(`database unavailable during ${operation}`);
    this.name = 'DatabaseUnavailableError';
  }
}

export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
  }
  if (error.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply
    .code(error.status)
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code: error.code,
        message: error.message,
        ...(error.retryAfterSeconds !== undefined
          ? { retry_after_seconds: Math.max(1, Math.ceil(error.retryAfterSeconds)) }
          : {}),
      },
    });
}

export const unauthenticated = (
  message = 'Sign in again: the access token is missing, invalid or expired.',
) => new ApiError(401, 'UNAUTHENTICATED', message);

export const unavailable = (retryAfterSeconds: number) =>
  new ApiError(
    503,
    'UNAVAILABLE',
    'Voice calls are temporarily unavailable. Try again shortly.',
    retryAfterSeconds,
  );

/** Any failure → what the caller sees: our ApiErrors as they are, a database outage as 503, anything else 500. */
export function toApiError(
  error: unknown,
  log: Pick<Logger, 'warn' | 'error'>,
  retryAfterSeconds: number,
): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DatabaseUnavailableError) {
    log.warn({ operation: error.operation, detail: error.detail }, 'database unavailable');
    return unavailable(retryAfterSeconds);
  }
  log.error({ err: error }, 'unexpected error');
  return new ApiError(500, 'INTERNAL', 'Something went wrong on our side. Try again.');
}
