import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTokenService } from '../../src/app.ts';
import { testConfig } from '../support/config.ts';

// What a slow or greedy client can hold: a stalled body is cut off at TOKEN_REQUEST_TIMEOUT_MS (it was held 60-90 s
// whatever the 10 s request timeout said), and connections beyond TOKEN_MAX_CONNECTIONS are closed on arrival.
const apps: FastifyInstance[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function serve(env: Record<string, string>): Promise<number> {
  const app = await buildTokenService(
    testConfig({
      supabaseUrl: 'http://127.0.0.1:9',
      serviceRoleKey: 'x'.repeat(40),
      jwtSecret: 'unit-test-jwt-secret-with-at-least-32-characters',
      livekit: {
        url: 'ws://127.0.0.1:9',
        apiKey: 'devkey',
        apiSecret: 'unit-test-livekit-secret-32-characters!',
      },
      env: { LOG_LEVEL: 'silent', ...env },
    }),
  );
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

interface SocketEnd {
  firstLine: string;
  afterMs: number;
}

/** Connects, writes `text`, then waits until the server closes the socket; what it answered (if anything). */
function sendAndWaitForClose(port: number, text: string, limitMs: number): Promise<SocketEnd> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    sockets.push(socket);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ firstLine: received.split('\r\n')[0] ?? '', afterMs: Date.now() - started });
    });
    const timer = setTimeout(() => reject(new Error(`socket still open after ${limitMs} ms`)), limitMs);
  });
}

function openIdle(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    sockets.push(socket);
    socket.on('error', reject);
  });
}

describe('slow and greedy clients', () => {
  it('a request whose body stalls gets 408 and its connection closed at the request timeout', async () => {
    const port = await serve({ TOKEN_REQUEST_TIMEOUT_MS: '1000' });
    const stalled = await sendAndWaitForClose(
      port,
      'POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"room',
      // Far above the configured 1 s; Node's defaults (a check every 30 s, 60 s for headers) are far above this.
      15_000,
    );
    expect(stalled.firstLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(stalled.afterMs).toBeGreaterThanOrEqual(900);
  });

  it('headers that never finish get the same', async () => {
    const port = await serve({ TOKEN_REQUEST_TIMEOUT_MS: '1000' });
    const stalled = await sendAndWaitForClose(
      port,
      'POST /v1/token HTTP/1.1\r\nHost: x\r\nX-Slow: a',
      15_000,
    );
    expect(stalled.firstLine).toBe('HTTP/1.1 408 Request Timeout');
  });

  it('connections beyond TOKEN_MAX_CONNECTIONS are closed on arrival; once one closes, requests go through', async () => {
    const port = await serve({ TOKEN_MAX_CONNECTIONS: '2' });
    const held = [await openIdle(port), await openIdle(port)];
    const refused = await sendAndWaitForClose(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 10_000);
    expect(refused.firstLine).toBe('');

    held[0]?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const response = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } });
    expect(response.status).toBe(200);
  });
});
