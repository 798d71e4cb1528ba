import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTokenService } from '../../src/app.ts';
import { testConfig } from '../support/config.ts';

// The HTTP surface without a database: the Supabase URL points at a closed port, so everything that reaches the
// database must come back as 503 UNAVAILABLE, and everything before it (auth, body checks) answers on its own.
const SECRET = 'unit-test-jwt-secret-with-at-least-32-characters';
const LK = {
  url: 'ws://127.0.0.1:7880',
  apiKey: 'devkey',
  apiSecret: 'unit-test-livekit-secret-32-characters!',
};

let app: FastifyInstance;
let accessToken: string;

beforeAll(async () => {
  app = await buildTokenService(
    testConfig({
      supabaseUrl: 'http://127.0.0.1:9',
      serviceRoleKey: 'x'.repeat(40),
      jwtSecret: SECRET,
      livekit: LK,
      env: { TOKEN_CORS_ORIGINS: 'http://localhost:5173', TOKEN_DB_TIMEOUT_MS: '500', LOG_LEVEL: 'silent' },
    }),
  );
  accessToken = await new SignJWT({ sub: randomUUID(), aud: 'authenticated', role: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
});
afterAll(() => app.close());

const auth = () => ({ authorization: `Bearer ${accessToken}` });

interface Case {
  name: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url?: string;
  headers?: () => Record<string, string>;
  payload?: string | Buffer;
  status: number;
  code?: string;
}

const cases: Case[] = [
  {
    name: 'no Authorization',
    status: 401,
    code: 'UNAUTHENTICATED',
    payload: '{}',
    headers: () => ({ 'content-type': 'application/json' }),
  },
  {
    name: 'Basic auth',
    status: 401,
    code: 'UNAUTHENTICATED',
    headers: () => ({ authorization: 'Basic YTpi' }),
  },
  {
    name: 'garbage token',
    status: 401,
    code: 'UNAUTHENTICATED',
    headers: () => ({ authorization: 'Bearer garbage' }),
  },
  {
    name: 'invalid JSON',
    status: 400,
    code: 'BAD_REQUEST',
    payload: '{"room_name":',
    headers: () => ({ ...auth(), 'content-type': 'application/json' }),
  },
  {
    name: 'JSON array',
    status: 400,
    code: 'BAD_REQUEST',
    payload: '[1,2]',
    headers: () => ({ ...auth(), 'content-type': 'application/json' }),
  },
  {
    // Unknown fields are ignored (SDKs add some over time): the request goes on to the database, down here.
    name: 'unknown field',
    status: 503,
    code: 'UNAVAILABLE',
    payload: '{"identity":"someone-else"}',
    headers: () => ({ ...auth(), 'content-type': 'application/json' }),
  },
  {
    name: 'another agent in room_config',
    status: 400,
    code: 'BAD_REQUEST',
    payload: JSON.stringify({ room_config: { agents: [{ agent_name: 'other' }] } }),
    headers: () => ({ ...auth(), 'content-type': 'application/json' }),
  },
  {
    name: 'body over the limit',
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    payload: JSON.stringify({ participant_metadata: 'x'.repeat(20_000) }),
    headers: () => ({ ...auth(), 'content-type': 'application/json' }),
  },
  {
    name: 'text/plain body',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    payload: 'hello',
    headers: () => ({ ...auth(), 'content-type': 'text/plain' }),
  },
  {
    name: 'form body',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    payload: 'a=b',
    headers: () => ({ ...auth(), 'content-type': 'application/x-www-form-urlencoded' }),
  },
  {
    name: 'invalid UTF-8 in JSON',
    status: 400,
    code: 'BAD_REQUEST',
    payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    headers: () => ({ ...auth(), 'content-type': 'application/json' }),
  },
  {
    name: 'valid request, database unreachable',
    status: 503,
    code: 'UNAVAILABLE',
    payload: '{}',
    headers: () => ({ ...auth(), 'content-type': 'application/json; charset=utf-8' }),
  },
  {
    name: 'valid request with no body, database unreachable',
    status: 503,
    code: 'UNAVAILABLE',
    headers: auth,
  },
  { name: 'GET on the token endpoint', method: 'GET', status: 404, code: 'NOT_FOUND', headers: auth },
  { name: 'unknown path', url: '/v1/tokens', status: 404, code: 'NOT_FOUND' },
  {
    name: 'unsigned webhook',
    url: '/v1/livekit/webhook',
    status: 401,
    code: 'UNAUTHENTICATED',
    payload: '{"event":"room_finished"}',
    headers: () => ({ 'content-type': 'application/webhook+json' }),
  },
  { name: 'readyz without a database', method: 'GET', url: '/readyz', status: 503, code: 'UNAVAILABLE' },
  { name: 'healthz', method: 'GET', url: '/healthz', status: 200 },
];

describe('HTTP surface (no database)', () => {
  it.each(cases)('$name → $status $code', async (c) => {
    const response = await app.inject({
      method: c.method ?? 'POST',
      url: c.url ?? '/v1/token',
      headers: c.headers?.() ?? {},
      ...(c.payload !== undefined ? { payload: c.payload } : {}),
    });
    expect(response.statusCode).toBe(c.status);
    if (c.code) {
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json()).toMatchObject({ error: { code: c.code, message: expect.any(String) } });
    }
    if (c.status === 503 || c.status === 429)
      expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
    if (c.status === 401) expect(response.body).not.toContain(accessToken);
  });

  it('rejects a webhook signed with another secret, or whose body does not match its signature', async () => {
    const body = JSON.stringify({
      event: 'room_finished',
      room: { name: 'voice-x' },
      id: 'EV_1',
      createdAt: '1',
    });
    const sign = async (secret: string, signedBody: string) => {
      const at = new AccessToken(LK.apiKey, secret);
      at.sha256 = Buffer.from(
        await crypto.subtle.digest('SHA-256', new TextEncoder().encode(signedBody)),
      ).toString('base64');
      return at.toJwt();
    };
    const forged = await app.inject({
      method: 'POST',
      url: '/v1/livekit/webhook',
      headers: {
        'content-type': 'application/webhook+json',
        authorization: await sign('wrong-secret-32-characters-long!!', body),
      },
      payload: body,
    });
    expect(forged.statusCode).toBe(401);
    const swapped = await app.inject({
      method: 'POST',
      url: '/v1/livekit/webhook',
      headers: {
        'content-type': 'application/webhook+json',
        authorization: await sign(LK.apiSecret, '{"event":"other"}'),
      },
      payload: body,
    });
    expect(swapped.statusCode).toBe(401);
  });

  it("sends helmet's security headers on every reply, errors included", async () => {
    for (const request of [
      { method: 'GET' as const, url: '/healthz' },
      {
        method: 'POST' as const,
        url: '/v1/token',
        payload: '{}',
        headers: { 'content-type': 'application/json' },
      },
      { method: 'GET' as const, url: '/nope' },
    ]) {
      const reply = await app.inject(request);
      expect(reply.headers['x-content-type-options'], request.url).toBe('nosniff');
      expect(reply.headers['strict-transport-security'], request.url).toMatch(/max-age=/);
      expect(reply.headers['content-security-policy'], request.url).toMatch(/default-src 'self'/);
      expect(reply.headers['cross-origin-resource-policy'], request.url).toBe('cross-origin');
      expect(reply.headers['x-powered-by'], request.url).toBeUndefined();
    }
  });

  it('answers CORS preflight for configured origins only and exposes Retry-After', async () => {
    const allowed = await app.inject({
      method: 'OPTIONS',
      url: '/v1/token',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(allowed.statusCode).toBeLessThan(300);
    expect(allowed.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    const denied = await app.inject({
      method: 'OPTIONS',
      url: '/v1/token',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('exports Prometheus metrics including denials by code', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('voice_tokens_denied_total{code="UNAUTHENTICATED"}');
    expect(response.body).toContain('voice_token_request_duration_seconds_bucket');
  });
});
