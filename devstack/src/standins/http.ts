import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What every stand-in server shares: a free port on one host, and a close that does not wait for clients. */
export interface ListeningServer {
  port: number;
  /** Stops accepting, destroys every open socket (keep-alive, SSE, WebSocket) and resolves once closed. */
  close(): Promise<void>;
}

/**
 * How long the stand-ins keep an idle client connection open: what the real APIs do (api.anthropic.com,
 * api.openai.com and api.deepgram.com sit behind Cloudflare, whose HTTP/1.1 keep-alive for clients is 400 s).
 * Node's default (5 s) would close the agent's connection between two turns, which the real services do not.
 * No `Keep-Alive: timeout=` hint is sent either (see {@link listenOnFreePort}).
 */
export const STANDIN_KEEP_ALIVE_MS = 400_000;

/**
 * Answers `Connection: keep-alive` without Node's `Keep-Alive: timeout=` hint. Whether the real APIs send such a
 * hint was not checked from here, and a client that waits for one keeps its own idle timeout (undici: 4 s, shorter
 * than the pause between two turns of a call); so the stand-ins give none, and a client that reuses connections
 * only thanks to the hint is caught here rather than in production.
 */
function withoutKeepAliveHint(_req: IncomingMessage, res: ServerResponse): void {
  // Node adds the hint only when the response sets no Connection header itself.
  res.setHeader('Connection', 'keep-alive');
}

/**
 * Listens on port 0 of `host` and tracks sockets, so stop() ends keep-alive connections and half-finished
 * streams instead of hanging until clients give up (http.Server#close waits for them).
 */
export async function listenOnFreePort(server: Server, host: string): Promise<ListeningServer> {
  const sockets = new Set<Socket>();
  server.keepAliveTimeout = STANDIN_KEEP_ALIVE_MS;
  server.prependListener('request', withoutKeepAliveHint);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

export class BodyTooLargeError extends Error {}

/** Reads a request body up to `limitBytes` (the real APIs answer 413 above their limits). */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new BodyTooLargeError(`body exceeds ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Random id in the style providers use (`msg_…`, `req_…`, `toolu_…`). */
export function providerId(prefix: string, length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = '';
  for (let i = 0; i < length; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  return `${prefix}${id}`;
}
