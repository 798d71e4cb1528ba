/**
 * GoTrue's error contract. A request carrying `X-Supabase-Api-Version: 2024-01-01` (auth-js always sends it) gets
 * `{"code":"<error_code>","message":"..."}` and the header echoed back; older clients get the legacy shape
 * `{"code":<status>,"error_code":"...","msg":"..."}`. auth-js reads `code` (new) or `error_code` (legacy) into
 * AuthApiError.code, and `message`/`msg` into its message, so both must be exact.
 */
export const API_VERSION_HEADER = 'x-supabase-api-version';
export const API_VERSION_2024_01_01 = '2024-01-01';

/** The error codes this server emits (a subset of GoTrue's apierrors.ErrorCode). */
export type AuthErrorCode =
  | 'unexpected_failure'
  | 'validation_failed'
  | 'bad_json'
  | 'email_address_invalid'
  | 'weak_password'
  | 'same_password'
  | 'user_already_exists'
  | 'email_exists'
  | 'invalid_credentials'
  | 'email_not_confirmed'
  | 'user_banned'
  | 'user_not_found'
  | 'refresh_token_not_found'
  | 'refresh_token_already_used'
  | 'session_not_found'
  | 'session_expired'
  | 'no_authorization'
  | 'bad_jwt'
  | 'not_admin'
  | 'otp_expired'
  | 'unsupported_grant_type'
  | 'conflict'
  | 'not_found'
  | 'anonymous_provider_disabled'
  | 'phone_provider_disabled'
  | 'otp_disabled';

export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: AuthErrorCode,
    message: string,
    /** Extra top-level fields GoTrue adds (e.g. `weak_password: { reasons }`). */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export const badRequest = (code: AuthErrorCode, message: string) => new AuthError(400, code, message);
export const unauthorized = (code: AuthErrorCode, message: string) => new AuthError(401, code, message);
export const forbidden = (code: AuthErrorCode, message: string) => new AuthError(403, code, message);
export const notFound = (code: AuthErrorCode, message: string) => new AuthError(404, code, message);
export const unprocessable = (code: AuthErrorCode, message: string) => new AuthError(422, code, message);

/** True when the client asked for the 2024-01-01 (or a later) API version. */
export function wantsModernErrors(versionHeader: string | string[] | undefined): boolean {
  const value = Array.isArray(versionHeader) ? versionHeader[0] : versionHeader;
  if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  return value >= API_VERSION_2024_01_01;
}

export function errorBody(error: AuthError, modern: boolean): Record<string, unknown> {
  return modern
    ? { code: error.code, message: error.message, ...error.extra }
    : { code: error.status, error_code: error.code, msg: error.message, ...error.extra };
}
