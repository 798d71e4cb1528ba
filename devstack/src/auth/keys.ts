import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import { forbidden } from './errors.ts';

export type SigningAlgorithm = 'HS256' | 'ES256' | 'RS256';

/** An asymmetric private key as a JWK (what GOTRUE_JWT_KEYS holds): EC P-256 for ES256 or RSA for RS256. */
export type PrivateSigningJwk = JWK & { d: string };

/**
 * The keys GoTrue signs and verifies with. Without an asymmetric key everything is HS256 with the shared secret
 * and the JWKS is empty. With one, new access tokens are signed with it (header `kid`) and its public half is
 * published; HS256 tokens without a `kid` (the anon and service_role keys) are still accepted, as GoTrue does for
 * backward compatibility.
 */
export interface Keyring {
  algorithm: SigningAlgorithm;
  kid: string | undefined;
  jwks: { keys: JWK[] };
  sign(claims: JWTPayload): Promise<string>;
  /** Verifies signature and expiry; throws GoTrue's 403 bad_jwt with its message on failure. */
  verify(token: string): Promise<JWTPayload>;
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

function algorithmOf(jwk: JWK): 'ES256' | 'RS256' {
  if (jwk.alg === 'ES256' || (jwk.kty === 'EC' && jwk.crv === 'P-256' && !jwk.alg)) return 'ES256';
  if (jwk.alg === 'RS256' || (jwk.kty === 'RSA' && !jwk.alg)) return 'RS256';
  throw new Error(
    `auth server: signingKey must be an ES256 (EC P-256) or RS256 (RSA) private JWK, got ${jwk.kty}/${jwk.alg}`,
  );
}

export async function createKeyring(jwtSecret: string, signingKey?: PrivateSigningJwk): Promise<Keyring> {
  const secret = new TextEncoder().encode(jwtSecret);

  if (!signingKey) {
    return {
      algorithm: 'HS256',
      kid: undefined,
      jwks: { keys: [] },
      sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret),
      verify: (token) =>
        verifyWith(token, async (header) => {
          if (header.kid !== undefined)
            throw new Error(`unrecognized JWT kid ${header.kid} for algorithm ${header.alg}`);
          return { key: secret, algorithms: ['HS256'] };
        }),
    };
  }

  if (typeof signingKey.d !== 'string')
    throw new Error('auth server: signingKey must be a private JWK (with "d")');
  const algorithm = algorithmOf(signingKey);
  const publicJwk: JWK = { ...signingKey };
  for (const member of PRIVATE_JWK_MEMBERS) delete publicJwk[member];
  const kid = signingKey.kid ?? (await calculateJwkThumbprint(publicJwk));
  const privateKey = await importJWK({ ...signingKey, alg: algorithm }, algorithm);
  const publicKey = await importJWK({ ...publicJwk, alg: algorithm }, algorithm);

  return {
    algorithm,
    kid,
    jwks: { keys: [{ ...publicJwk, kid, alg: algorithm, use: 'sig', key_ops: ['verify'], ext: true }] },
    sign: (claims) =>
      new SignJWT(claims).setProtectedHeader({ alg: algorithm, kid, typ: 'JWT' }).sign(privateKey),
    verify: (token) =>
      verifyWith(token, async (header) => {
        if (header.kid === kid) return { key: publicKey, algorithms: [algorithm] };
        if (header.kid !== undefined)
          throw new Error(`unrecognized JWT kid ${header.kid} for algorithm ${header.alg}`);
        if (header.alg === 'HS256') return { key: secret, algorithms: ['HS256'] };
        throw new Error('missing kid');
      }),
  };
}

type KeyChoice = { key: Uint8Array | Awaited<ReturnType<typeof importJWK>>; algorithms: string[] };

async function verifyWith(
  token: string,
  choose: (header: { kid?: string; alg?: string }) => Promise<KeyChoice>,
): Promise<JWTPayload> {
  try {
    let header: { kid?: string; alg?: string };
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new Error('token is malformed: could not decode the header');
    }
    const { key, algorithms } = await choose(header);
    // Algorithm pinned per key: `alg: none` and HS256-with-the-public-key confusion both fail here.
    const { payload } = await jwtVerify(token, key, { algorithms });
    return payload;
  } catch (error) {
    throw forbidden(
      'bad_jwt',
      `invalid JWT: unable to parse or verify signature, ${describeJwtError(error)}`,
    );
  }
}

/** The wording golang-jwt uses, which GoTrue puts into its message (clients sometimes match on it). */
function describeJwtError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token has invalid claims: token is expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `token has invalid claims: ${error.message}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'token signature is invalid: signature is invalid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return `token signature is invalid: signing method ${error.message}`;
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) {
    return `token is malformed: ${error.message}`;
  }
  return error instanceof Error ? `token is unverifiable: ${error.message}` : 'token is unverifiable';
}
