import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccessTokenError,
  bearerToken,
  createAccessTokenVerifier,
  KeySourceUnavailableError,
} from '../../src/auth.ts';

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
const secretBytes = new TextEncoder().encode(SECRET);
const userId = randomUUID();
const now = () => Math.floor(Date.now() / 1000);

function claims(overrides: Partial<JWTPayload> & Record<string, unknown> = {}): JWTPayload {
  return {
    sub: userId,
    aud: 'authenticated',
    role: 'authenticated',
    iat: now() - 10,
    exp: now() + 3600,
    ...overrides,
  };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function hs256(payload: JWTPayload, key: Uint8Array = secretBytes): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
}

/** Any header and payload, HMAC-signed with the secret (shapes jose's SignJWT refuses to produce). */
function signedRaw(header: unknown, payload: unknown): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let rsaJwk: JWK;
let rsaPem: string;

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
  rsaPem = await exportSPKI(rsa.publicKey);
});

async function rs256(payload: JWTPayload, kid = 'key-1', key = rsa.privateKey): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid }).sign(key);
}

describe('access token verification: HS256 secret and JWKS together', () => {
  const verifier = () =>
    createAccessTokenVerifier({
      jwtSecret: SECRET,
      jwks: createLocalJWKSet({ keys: [rsaJwk] }),
      clockToleranceSeconds: 5,
    });

  it('accepts a valid HS256 token and a valid RS256 token from the key set', async () => {
    await expect(verifier().verify(await hs256(claims()))).resolves.toMatchObject({ userId });
    await expect(verifier().verify(await rs256(claims()))).resolves.toMatchObject({ userId });
  });

  it('accepts an audience list that includes "authenticated", and any typ', async () => {
    await expect(
      verifier().verify(await hs256(claims({ aud: ['other', 'authenticated'] }))),
    ).resolves.toMatchObject({ userId });
    await expect(verifier().verify(signedRaw({ alg: 'HS256' }, claims()))).resolves.toMatchObject({ userId });
  });

  it('tolerates a few seconds of clock skew, but not more', async () => {
    await expect(verifier().verify(await hs256(claims({ exp: now() - 3 })))).resolves.toMatchObject({
      userId,
    });
    await expect(verifier().verify(await hs256(claims({ nbf: now() + 3 })))).resolves.toMatchObject({
      userId,
    });
    await expect(verifier().verify(await hs256(claims({ exp: now() - 30 })))).rejects.toBeInstanceOf(
      AccessTokenError,
    );
  });

  const attacks: Array<[string, () => Promise<string>]> = [
    ['expired', () => hs256(claims({ exp: now() - 120 }))],
    ['not yet valid (future nbf)', () => hs256(claims({ nbf: now() + 600 }))],
    ['wrong audience', () => hs256(claims({ aud: 'service' }))],
    ['no audience', () => hs256(claims({ aud: undefined }))],
    [
      'wrong secret',
      () => hs256(claims(), new TextEncoder().encode('another-secret-that-is-also-32-chars-long!!')),
    ],
    ['alg none', async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`],
    ['alg none with a signature', async () => `${b64url({ alg: 'none' })}.${b64url(claims())}.c2lnbmF0dXJl`],
    ['HS256 signed with the public key (PEM)', () => hs256(claims(), new TextEncoder().encode(rsaPem))],
    [
      'HS256 signed with the public key (JWK JSON)',
      () => hs256(claims(), new TextEncoder().encode(JSON.stringify(rsaJwk))),
    ],
    [
      'RS256 signed by an unknown key with a known kid',
      async () => {
        const other = await generateKeyPair('RS256');
        return rs256(claims(), 'key-1', other.privateKey);
      },
    ],
    ['RS256 with an unknown kid', () => rs256(claims(), 'key-unknown')],
    [
      'HS512 (not allowed)',
      () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS512' })
          .sign(new TextEncoder().encode(SECRET.repeat(2))),
    ],
    ['truncated', async () => (await hs256(claims())).slice(0, -10)],
    ['signature stripped', async () => `${(await hs256(claims())).split('.').slice(0, 2).join('.')}.`],
    [
      'payload swapped (privilege change)',
      async () => {
        const [h, , s] = (await hs256(claims())).split('.');
        return `${h}.${b64url(claims({ sub: randomUUID() }))}.${s}`;
      },
    ],
    ['garbage', async () => 'not-a-jwt'],
    ['garbage with dots', async () => 'a.b.c'],
    ['empty', async () => ''],
    ['huge', async () => 'a'.repeat(20_000)],
    ['missing sub', () => hs256(claims({ sub: undefined }))],
    ['sub not a uuid', () => hs256(claims({ sub: 'admin' }))],
    ['role anon (the anon key)', () => hs256(claims({ role: 'anon', sub: undefined }))],
    ['role service_role', () => hs256(claims({ role: 'service_role' }))],
    ['missing exp', () => hs256(claims({ exp: undefined }))],
    ['exp not a number', async () => signedRaw({ alg: 'HS256' }, { ...claims(), exp: String(now() + 3600) })],
    ['nbf not a number', async () => signedRaw({ alg: 'HS256' }, { ...claims(), nbf: String(now() - 10) })],
    ['iat not a number', async () => signedRaw({ alg: 'HS256' }, { ...claims(), iat: 'yesterday' })],
    ['audience list without ours', () => hs256(claims({ aud: ['service', 'anon'] }))],
    ['payload a JSON array', async () => signedRaw({ alg: 'HS256' }, [claims()])],
    ['header a JSON array', async () => signedRaw([{ alg: 'HS256' }], claims())],
    [
      'a critical header extension',
      async () => signedRaw({ alg: 'HS256', crit: ['b64'], b64: true }, claims()),
    ],
    [
      'unencoded payload (b64: false)',
      async () => signedRaw({ alg: 'HS256', crit: ['b64'], b64: false }, claims()),
    ],
    ['padding or other characters in the signature', async () => `${signedRaw({ alg: 'HS256' }, claims())}=`],
    ['four segments', async () => `${await hs256(claims())}.e30`],
  ];

  it.each(attacks)('rejects %s', async (_name, make) => {
    await expect(verifier().verify(await make())).rejects.toBeInstanceOf(AccessTokenError);
  });
});

describe('access token verification: secret only', () => {
  const verifier = createAccessTokenVerifier({ jwtSecret: SECRET, clockToleranceSeconds: 5 });

  it('rejects asymmetric tokens when no JWKS is configured (no fallback key)', async () => {
    await expect(verifier.verify(await rs256(claims()))).rejects.toBeInstanceOf(AccessTokenError);
  });

  it('checks the issuer when configured', async () => {
    const strict = createAccessTokenVerifier({
      jwtSecret: SECRET,
      issuer: 'http://127.0.0.1:1/auth/v1',
      clockToleranceSeconds: 5,
    });
    await expect(
      strict.verify(await hs256(claims({ iss: 'http://127.0.0.1:1/auth/v1' }))),
    ).resolves.toBeTruthy();
    await expect(
      strict.verify(await hs256(claims({ iss: 'https://evil.example/auth/v1' }))),
    ).rejects.toBeInstanceOf(AccessTokenError);
  });
});

describe('access token verification: remote JWKS', () => {
  let server: Server;
  let keys: JWK[] = [];
  let fetches = 0;
  let failing = false;
  let url = '';

  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches += 1;
      if (failing) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('caches the key set and refetches when a token names a new kid (key rotation)', async () => {
    keys = [rsaJwk];
    fetches = 0;
    const verifier = createAccessTokenVerifier({ jwksUrl: url, clockToleranceSeconds: 5, jwksCooldownMs: 0 });
    await verifier.verify(await rs256(claims()));
    await verifier.verify(await rs256(claims()));
    expect(fetches).toBe(1);

    const rotated = await generateKeyPair('ES256', { extractable: true });
    keys = [rsaJwk, { ...(await exportJWK(rotated.publicKey)), kid: 'key-2', alg: 'ES256' }];
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', kid: 'key-2' })
      .sign(rotated.privateKey);
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId });
    expect(fetches).toBe(2);
  });

  it('rejects HS256 outright when only a JWKS is configured (no key confusion)', async () => {
    keys = [rsaJwk];
    const verifier = createAccessTokenVerifier({ jwksUrl: url, clockToleranceSeconds: 5 });
    await expect(
      verifier.verify(await hs256(claims(), new TextEncoder().encode(rsaPem))),
    ).rejects.toBeInstanceOf(AccessTokenError);
  });

  it('reports an unreachable key set as unavailable, not as a bad token', async () => {
    failing = true;
    try {
      const verifier = createAccessTokenVerifier({ jwksUrl: url, clockToleranceSeconds: 5 });
      await expect(verifier.verify(await rs256(claims()))).rejects.toBeInstanceOf(KeySourceUnavailableError);
    } finally {
      failing = false;
    }
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['Bearer  abc ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});
