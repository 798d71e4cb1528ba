import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTokenService } from '../../src/app.ts';
import { testConfig } from '../support/config.ts';

// A database path that accepts connections and then never answers (a hung gateway, a stuck pooler) must turn
// into a quick 503, on both paths: the REST transport's own timer, and the pg pool's connect/query timeouts.
const SECRET = 'unit-test-jwt-secret-with-at-least-32-characters';
const TIMEOUT_MS = 300;
let silent: Server;
const sockets = new Set<Socket>();
let port = 0;

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

async function serviceAgainstSilentDatabase(env: Record<string, string>): Promise<FastifyInstance> {
  return buildTokenService(
    testConfig({
      supabaseUrl: `http://127.0.0.1:${port}`,
      serviceRoleKey: 'x'.repeat(40),
      jwtSecret: SECRET,
      livekit: {
        url: 'ws://127.0.0.1:7880',
        apiKey: 'devkey',
        apiSecret: 'unit-test-livekit-secret-32-characters!',
      },
      env: {
        LOG_LEVEL: 'silent',
        TOKEN_DB_TIMEOUT_MS: String(TIMEOUT_MS),
        VOICE_FLAGS_CACHE_MS: '0',
        ...env,
      },
    }),
  );
}

describe('a database that never answers', () => {
  for (const [path, env] of [
    ['REST (PostgREST)', {}],
    ['direct Postgres', { TOKEN_DATABASE_URL: `postgresql://u:p@127.0.0.1:PORT/postgres` }],
  ] as const) {
    it(`${path}: 503 UNAVAILABLE with Retry-After, bounded by TOKEN_DB_TIMEOUT_MS`, async () => {
      const resolved = Object.fromEntries(
        Object.entries(env).map(([k, v]) => [k, v.replace('PORT', String(port))]),
      );
      const app = await serviceAgainstSilentDatabase(resolved);
      try {
        const accessToken = await new SignJWT({
          sub: randomUUID(),
          aud: 'authenticated',
          role: 'authenticated',
        })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(SECRET));
        const started = Date.now();
        const reply = await app.inject({
          method: 'POST',
          url: '/v1/token',
          headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
          payload: '{}',
        });
        const elapsed = Date.now() - started;
        expect(reply.statusCode).toBe(503);
        expect(reply.json()).toMatchObject({ error: { code: 'UNAVAILABLE' } });
        expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
        // Loose sanity bound: the timeout fired (not a socket default of minutes).
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
        expect(elapsed).toBeLessThan(TIMEOUT_MS * 10);
      } finally {
        await app.close();
      }
    });
  }
});
