import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { z } from 'zod';

/**
 * Verifies Supabase access tokens locally (no round trip to the auth server per request).
 *
 * Keys: HS256 with the project's JWT secret, and asymmetric keys (RS256/ES256) from the project's JWKS, which jose
 * caches and refetches when a token names an unknown `kid` (rate-limited by a cooldown so garbage kids cannot make
 * us hammer the auth server). Each algorithm is tied to exactly one key source, which is what defeats key
 * confusion: an HS256 token is only ever checked against the shared secret, never against a public key, and
 * `alg: none` is in no allow-list.
 */
export interface AccessTokenVerifierOptions {
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  clockToleranceSeconds: number;
  /** Minimum time between JWKS refetches triggered by unknown `kid`s (default 10 s). */
  jwksCooldownMs?: number;
  /** Override the JWKS source (tests with a local key set); takes precedence over jwksUrl. */
  jwks?: JWTVerifyGetKey;
}

export interface VerifiedUser {
  userId: string;
  /** Seconds since epoch when the access token expires. */
  expiresAt: number;
}

/** Why a token was refused (for logs and metrics; clients only ever see 401). */
export class AccessTokenError extends Error {
  constructor(readonly reason: string) {
    super(`access token rejected: ${reason}`);
    this.name = 'AccessTokenError';
  }
}

/** The key source could not be reached (JWKS down): not the caller's fault, answer 503. */
export class KeySourceUnavailableError extends Error {
  constructor(detail: string) {
    super(`access token keys unavailable: ${detail}`);
    this.name = 'KeySourceUnavailableError';
  }
}

const HMAC_ALGORITHMS = ['HS256'] as const;
const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'] as const;
/** Longer than any real Supabase token; stops megabyte headers from reaching the parser. */
const MAX_TOKEN_LENGTH = 8192;

const supabaseClaims = z.object({
  sub: z.uuid(),
  role: z.literal('authenticated'),
  exp: z.number(),
});

export interface AccessTokenVerifier {
  verify(token: string): Promise<VerifiedUser>;
}

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  const jwks =
    options.jwks ??
    (options.jwksUrl
      ? createRemoteJWKSet(new URL(options.jwksUrl), {
          // Keys rotate rarely; refetch at most every 10 s on an unknown kid, and at least every 10 min.
          cooldownDuration: options.jwksCooldownMs ?? 10_000,
          cacheMaxAge: 600_000,
          timeoutDuration: 3_000,
        })
      : undefined);
  if (!secret && !jwks) throw new Error('access token verification needs a JWT secret or a JWKS');

  const algorithms: string[] = [...(secret ? HMAC_ALGORITHMS : []), ...(jwks ? ASYMMETRIC_ALGORITHMS : [])];

  // Imported once: handing jose the raw bytes would re-import the HMAC key on every request (~3x slower verify).
  const hmacKey = secret
    ? crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    : undefined;

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (hmacKey && (HMAC_ALGORITHMS as readonly string[]).includes(header.alg)) return hmacKey;
    if (jwks && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(header.alg)) return jwks(header, token);
    throw new AccessTokenError(`algorithm ${String(header.alg)} not allowed`);
  };

  return {
    async verify(token: string): Promise<VerifiedUser> {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new AccessTokenError('bad length');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms,
          audience: 'authenticated',
          ...(options.issuer ? { issuer: options.issuer } : {}),
          clockTolerance: options.clockToleranceSeconds,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (error) {
        throw classify(error);
      }
      const claims = supabaseClaims.safeParse(payload);
      if (!claims.success) {
        throw new AccessTokenError(`claims: ${claims.error.issues.map((i) => i.path.join('.')).join(',')}`);
      }
      return { userId: claims.data.sub, expiresAt: claims.data.exp };
    },
  };
}

function classify(error: unknown): Error {
  if (error instanceof AccessTokenError) return error;
  // The JWKS could not be fetched or read: our problem, not the caller's.
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return new KeySourceUnavailableError(error.code);
  }
  if (
    error instanceof errors.JOSEError &&
    /JSON Web Key Set HTTP response/.test(error.message) // non-200 or unparsable JWKS response
  ) {
    return new KeySourceUnavailableError(error.message);
  }
  if (error instanceof errors.JOSEError) return new AccessTokenError(error.code);
  // fetch() itself failed (connection refused, DNS): only the JWKS path fetches.
  if (error instanceof TypeError && /fetch/i.test(error.message))
    return new KeySourceUnavailableError(error.message);
  return new AccessTokenError(error instanceof Error ? error.name : 'unknown');
}

/** `Authorization: Bearer <token>` → token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  return match?.[1];
}
