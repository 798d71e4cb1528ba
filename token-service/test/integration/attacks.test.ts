import { randomUUID } from 'node:crypto';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, type TestUser } from '@voice/devstack/testing/users';
import { decodeJwt, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTokenService, startTokenService } from '../support/service.ts';

// Everything a client can send wrong, over real HTTP against the real stack: each gets its 4xx, none a 500.
const stack = testStack();
let service: RunningTokenService;
let user: TestUser;
let claims: Record<string, unknown>;

beforeAll(async () => {
  service = await startTokenService(stack, {
    VOICE_MAX_ISSUANCES_PER_MINUTE: '1000',
    VOICE_MAX_CONCURRENT_SESSIONS: '1000',
  });
  user = await createTestUser(stack, { tier: 'studio' });
  // Start from the auth server's real claims, then tamper.
  claims = decodeJwt(user.accessToken);
});
afterAll(() => service?.close());

const secret = () => new TextEncoder().encode(stack.jwtSecret);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const sign = (payload: Record<string, unknown>, key: Uint8Array = secret()) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);

const attacks: Array<[string, () => Promise<string>]> = [
  ['expired', () => sign({ ...claims, exp: now() - 120 })],
  ['future nbf', () => sign({ ...claims, nbf: now() + 600 })],
  ['wrong aud', () => sign({ ...claims, aud: 'not-authenticated' })],
  ['wrong secret', () => sign(claims, new TextEncoder().encode('x'.repeat(48)))],
  ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`],
  [
    'HS256 signed with a public key',
    async () => {
      const { publicKey } = await generateKeyPair('RS256', { extractable: true });
      return sign(claims, new TextEncoder().encode(await exportSPKI(publicKey)));
    },
  ],
  ['truncated', async () => user.accessToken.slice(0, user.accessToken.length - 12)],
  ['garbage', async () => 'garbage.garbage.garbage'],
  ['missing sub', () => sign({ ...claims, sub: undefined })],
  [
    'sub of another user, re-signed with a wrong key',
    () => sign({ ...claims, sub: randomUUID() }, new TextEncoder().encode('y'.repeat(40))),
  ],
  ['the anon key', async () => stack.anonKey],
  ['the service role key', async () => stack.serviceRoleKey],
];

describe('JWT attacks → 401', () => {
  it('accepts the untampered token (control)', async () => {
    expect((await service.requestToken(user.accessToken, {})).status).toBe(201);
  });

  it.each(attacks)('%s', async (_name, make) => {
    const reply = await service.requestToken(await make(), {});
    expect(reply.status).toBe(401);
    expect(reply.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });
});

describe('malformed requests → 4xx, never 500', () => {
  const cases: Array<{ name: string; body: string | Buffer; type?: string; status: number }> = [
    { name: 'invalid JSON', body: '{"conversation_id":', status: 400 },
    { name: 'wrong types', body: '{"participant_name":{"a":1}}', status: 400 },
    { name: 'conversation id not a uuid', body: '{"conversation_id":"1 or 1=1"}', status: 400 },
    { name: 'another agent', body: '{"room_config":{"agents":[{"agent_name":"x"}]}}', status: 400 },
    {
      name: 'body over the limit',
      body: JSON.stringify({ participant_name: 'x'.repeat(50_000) }),
      status: 413,
    },
    { name: 'deeply nested JSON', body: `${'['.repeat(3000)}${']'.repeat(3000)}`, status: 400 },
    { name: 'binary', body: Buffer.from([0, 1, 2, 3, 255]), status: 400 },
    { name: 'text/plain', body: 'hi', type: 'text/plain', status: 415 },
  ];

  it.each(cases)('$name → $status', async (c) => {
    const response = await fetch(`${service.url}/v1/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': c.type ?? 'application/json' },
      body: c.body,
    });
    expect(response.status).toBe(c.status);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toEqual(expect.any(String));
  });

  it('unknown fields are ignored, not obeyed: asking for admin grants or another room gets the usual token', async () => {
    const response = await fetch(`${service.url}/v1/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        grants: { roomAdmin: true, roomCreate: true },
        video: { roomAdmin: true },
        room: 'someone-elses-room',
        participant_name: 'Ada',
      }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { participant_token: string; room_name: string };
    const video = decodeJwt(body.participant_token).video as Record<string, unknown>;
    expect(video.room).toBe(body.room_name);
    expect(video.roomAdmin).toBeUndefined();
    expect(video.roomCreate).toBeUndefined();
  });

  it('no 500 was counted', async () => {
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).not.toContain('code="INTERNAL"');
    expect(metrics).toMatch(/voice_tokens_issued_total 2\b/);
  });
});
