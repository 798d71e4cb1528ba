import { createLogger } from '@voice/core';
import { type AuthServer, startAuthServer } from '@voice/devstack/auth/server';
import { testStack } from '@voice/devstack/testing/stack';
import { serviceClient } from '@voice/devstack/testing/users';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTokenService, startTokenService } from '../support/service.ts';

// Asymmetric access tokens: an auth server signing with ES256 (like GoTrue with GOTRUE_JWT_KEYS) on the stack's
// database, and a token service that knows only its JWKS URL.
const stack = testStack();
let auth: AuthServer;
let service: RunningTokenService;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  auth = await startAuthServer({
    databaseUrl: stack.databaseUrl,
    jwtSecret: stack.jwtSecret,
    signingKey: { ...(await exportJWK(privateKey)), alg: 'ES256' } as never,
    logger: createLogger({ name: 'auth-es256', level: 'silent' }),
  });
  service = await startTokenService(stack, {
    SUPABASE_JWT_SECRET: '',
    SUPABASE_JWKS_URL: `${auth.url}/.well-known/jwks.json`,
    VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
  });
});
afterAll(async () => {
  await service?.close();
  await auth?.stop();
});

async function signUp(): Promise<{ id: string; accessToken: string }> {
  const response = await fetch(`${auth.url}/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `jwks-${crypto.randomUUID()}@example.com`,
      password: 'correct horse battery',
    }),
  });
  const body = (await response.json()) as { access_token: string; user: { id: string } };
  expect(response.status).toBe(200);
  return { id: body.user.id, accessToken: body.access_token };
}

describe('access tokens verified through the JWKS', () => {
  it('accepts an ES256 token from the auth server and refuses HS256 (no secret configured)', async () => {
    const user = await signUp();
    const header = JSON.parse(Buffer.from(user.accessToken.split('.')[0]!, 'base64url').toString()) as {
      alg: string;
      kid?: string;
    };
    expect(header.alg).toBe('ES256');
    expect(header.kid).toBeTruthy();
    await serviceClient(stack).from('profiles').update({ tier: 'studio' }).eq('id', user.id);

    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);

    // The same claims as HS256 — with the stack secret, or with the published public key as the HMAC secret.
    const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString());
    const hsWithSecret = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(stack.jwtSecret));
    const publicJwk = auth.jwks.keys[0];
    const hsWithPublicKey = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: header.kid })
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    for (const forged of [hsWithSecret, hsWithPublicKey]) {
      const reply = await service.requestToken(forged, {});
      expect(reply.status).toBe(401);
    }
  });
});
