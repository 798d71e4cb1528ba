import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallTokenError, requestCallToken } from '../../src/call/token-client.ts';

// A real HTTP server in this process answering as the token service would, one behaviour per path prefix.
let server: Server;
let base: string;
const seen: { auth?: string; body?: unknown }[] = [];

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : undefined;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    seen.push({ auth: req.headers.authorization, body: await readBody(req) });
    const scenario = req.url?.split('/')[1];
    switch (scenario) {
      case 'ok':
        return reply(res, 201, {
          server_url: 'ws://127.0.0.1:7880',
          participant_token: 'jwt',
          session_id: 's1',
          room_name: 'r1',
          conversation_id: 'c1',
          token_expires_at: new Date().toISOString(),
          limits: {
            max_call_seconds: 600,
            concurrent_calls_max: 3,
            concurrent_calls_in_use: 1,
            monthly_minutes_max: 300,
            monthly_minutes_used: 0,
          },
        });
      case 'tier':
        return reply(res, 403, {
          error: { code: 'TIER_REQUIRED', message: 'Voice calls need the Studio plan' },
        });
      case 'limit':
        return reply(res, 429, { error: { code: 'SESSION_LIMIT', message: 'x', retry_after_seconds: 42 } });
      case 'rate-header':
        return reply(res, 429, { error: { code: 'RATE_LIMITED', message: 'x' } }, { 'Retry-After': '17' });
      case 'proxy':
        res.writeHead(502, { 'Content-Type': 'text/html' });
        return res.end('<html>Bad gateway</html>');
      case 'teapot':
        return reply(res, 418, 'not json');
      case 'slow':
        return setTimeout(() => reply(res, 201, {}), 2000);
      default:
        return reply(res, 404, { error: { code: 'NOT_FOUND', message: 'no' } });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function failureOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CallTokenError);
  return (error as CallTokenError).failure;
}

describe('requestCallToken', () => {
  it('POSTs the standard body with the conversation and the bearer token, and returns the grant', async () => {
    const response = await requestCallToken({
      tokenServiceUrl: `${base}/ok`,
      accessToken: 'user-jwt',
      conversationId: '00000000-0000-4000-8000-000000000001',
      participantName: 'ada',
    });
    expect(response.session_id).toBe('s1');
    expect(response.limits.max_call_seconds).toBe(600);
    expect(seen.at(-1)).toEqual({
      auth: 'Bearer user-jwt',
      body: { conversation_id: '00000000-0000-4000-8000-000000000001', participant_name: 'ada' },
    });
  });

  it('maps error bodies to codes, keeping retry_after_seconds or Retry-After', async () => {
    expect(await failureOf(requestCallToken({ tokenServiceUrl: `${base}/tier`, accessToken: 't' }))).toEqual({
      kind: 'rejected',
      status: 403,
      code: 'TIER_REQUIRED',
      message: 'Voice calls need the Studio plan',
    });
    expect(
      await failureOf(requestCallToken({ tokenServiceUrl: `${base}/limit`, accessToken: 't' })),
    ).toMatchObject({
      code: 'SESSION_LIMIT',
      retryAfterSeconds: 42,
    });
    expect(
      await failureOf(requestCallToken({ tokenServiceUrl: `${base}/rate-header`, accessToken: 't' })),
    ).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 17 });
  });

  it('treats a gateway error page, a closed port and a hung service as unreachable', async () => {
    expect(
      await failureOf(requestCallToken({ tokenServiceUrl: `${base}/proxy`, accessToken: 't' })),
    ).toMatchObject({
      kind: 'unreachable',
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(
      await failureOf(requestCallToken({ tokenServiceUrl: `http://127.0.0.1:${port}`, accessToken: 't' })),
    ).toMatchObject({ kind: 'unreachable' });
    expect(
      await failureOf(
        requestCallToken({ tokenServiceUrl: `${base}/slow`, accessToken: 't', timeoutMs: 200 }),
      ),
    ).toMatchObject({ kind: 'unreachable' });
  });

  it('an unexpected answer is a rejection with code UNKNOWN, not a crash', async () => {
    expect(
      await failureOf(requestCallToken({ tokenServiceUrl: `${base}/teapot`, accessToken: 't' })),
    ).toMatchObject({
      kind: 'rejected',
      status: 418,
      code: 'UNKNOWN',
    });
  });
});
