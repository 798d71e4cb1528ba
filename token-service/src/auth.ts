import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
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

  // HS256 (Supabase's default: the project's JWT secret) is checked here with node:crypto, synchronously; jose
  // would go through WebCrypto, whose every HMAC is a job on libuv's thread pool and a chain of promises: the
  // token service's profile put that verify at ~15 % of its main thread per grant, plus the pool thread's time.
  // Asymmetric tokens (JWKS) still go through jose.
  const hmacKey = secret ? createSecretKey(secret) : undefined;

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (jwks && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(header.alg)) return jwks(header, token);
    throw new AccessTokenError(`algorithm ${String(header.alg)} not allowed`);
  };
  // What jose may accept: only the JWKS's algorithms (HS256 never reaches it, see verifyHs256).
  const asymmetric: string[] = jwks ? [...ASYMMETRIC_ALGORITHMS] : [];

  return {
    async verify(token: string): Promise<VerifiedUser> {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new AccessTokenError('bad length');
      let payload: JWTPayload;
      try {
        const hs256 = hmacKey ? verifyHs256(token, hmacKey) : undefined;
        if (hs256) {
          payload = hs256;
          checkClaims(payload, options.issuer, options.clockToleranceSeconds);
        } else {
          if (asymmetric.length === 0) throw new AccessTokenError('algorithm not allowed');
          ({ payload } = await jwtVerify(token, getKey, {
            algorithms: asymmetric,
            audience: 'authenticated',
            ...(options.issuer ? { issuer: options.issuer } : {}),
            clockTolerance: options.clockToleranceSeconds,
            requiredClaims: ['exp', 'sub'],
          }));
        }
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

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(strictUtf8.decode(Buffer.from(part, 'base64url')));
  } catch {
    throw new AccessTokenError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AccessTokenError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * A compact JWS whose protected header says HS256, verified with the secret: the payload, or undefined when the
 * header names another algorithm (then jose decides, against the JWKS or not at all). As strict as jose's
 * jwtVerify with `algorithms: ['HS256']`, and stricter in one place: any `crit` header is refused (Supabase uses
 * none; jose would accept `crit: ["b64"]` with `b64: true`). The signature is over the exact encoded text, so
 * nothing decoded is trusted before it matches (compared in constant time).
 */
function verifyHs256(token: string, key: KeyObject): JWTPayload | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) throw new AccessTokenError('ERR_JWS_INVALID');
  const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
  if (!BASE64URL.test(encodedHeader)) throw new AccessTokenError('ERR_JWS_INVALID');
  const header = decodeJsonObject(encodedHeader, 'header');
  if (header.alg !== 'HS256') return undefined;
  if (header.crit !== undefined || header.b64 !== undefined) throw new AccessTokenError('ERR_JWS_INVALID');
  if (!BASE64URL.test(encodedPayload) || !BASE64URL.test(encodedSignature)) {
    throw new AccessTokenError('ERR_JWS_INVALID');
  }
  const expected = createHmac('sha256', key).update(`${encodedHeader}.${encodedPayload}`).digest();
  const signature = Buffer.from(encodedSignature, 'base64url');
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    throw new AccessTokenError('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  }
  return decodeJsonObject(encodedPayload, 'payload') as JWTPayload;
}

/** jose's claim checks for these options: exp and sub present, aud includes "authenticated", iss, iat/nbf/exp times. */
function checkClaims(payload: JWTPayload, issuer: string | undefined, toleranceSeconds: number): void {
  for (const claim of ['iss', 'aud', 'sub', 'exp'] as const) {
    if (claim === 'iss' && issuer === undefined) continue;
    if (!Object.hasOwn(payload, claim))
      throw new AccessTokenError(`ERR_JWT_CLAIM_VALIDATION_FAILED ${claim}`);
  }
  if (issuer !== undefined && payload.iss !== issuer)
    throw new AccessTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED iss');
  const aud = payload.aud;
  if (!(aud === 'authenticated' || (Array.isArray(aud) && aud.includes('authenticated')))) {
    throw new AccessTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED aud');
  }
  const now = Math.floor(Date.now() / 1000);
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    const value = payload[claim];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new AccessTokenError(`ERR_JWT_CLAIM_VALIDATION_FAILED ${claim}`);
    }
  }
  if (payload.nbf !== undefined && payload.nbf > now + toleranceSeconds) {
    throw new AccessTokenError('ERR_JWT_CLAIM_VALIDATION_FAILED nbf');
  }
  if ((payload.exp as number) <= now - toleranceSeconds) throw new AccessTokenError('ERR_JWT_EXPIRED');
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
