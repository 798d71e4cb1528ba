import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@voice/core';
import { observationSchema } from './observations.ts';
import type { AgentMetrics } from './prometheus.ts';

const MAX_BODY = 16 * 1024;

function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';
}

/**
 * GET /metrics (Prometheus), GET /healthz (the process is up), GET /readyz (it takes calls: 200, or 503 with the
 * reasons; the configured models and their shutdown dates in both), and POST /internal/observations from this
 * machine's job processes (loopback only: a remote client must not be able to skew the numbers).
 */
export async function startMetricsServer(opts: {
  metrics: AgentMetrics;
  host: string;
  port: number;
  logger: Logger;
  /** What /readyz answers; unset: always ready. */
  readiness?: () => { ready: boolean } & Record<string, unknown>;
}): Promise<{ server: Server; port: number; ingestUrl: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/metrics') {
      opts.metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(500).end();
        });
      return;
    }
    if (req.method === 'GET' && url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && url === '/readyz') {
      const readiness = opts.readiness?.() ?? { ready: true };
      const { ready, ...detail } = readiness;
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ready ? 'ready' : 'unavailable', ...detail }));
      return;
    }
    if (req.method === 'POST' && url === '/internal/observations') {
      if (!isLoopback(req)) {
        res.writeHead(403).end();
        return;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_BODY) req.destroy();
      });
      req.on('end', () => {
        try {
          const parsed = observationSchema.safeParse(JSON.parse(body));
          if (!parsed.success) {
            res.writeHead(400).end();
            return;
          }
          opts.metrics.record(parsed.data);
          res.writeHead(204).end();
        } catch {
          res.writeHead(400).end();
        }
      });
      return;
    }
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end('{"error":{"code":"NOT_FOUND","message":"no such route"}}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ port }, 'metrics server listening');
  return {
    server,
    port,
    ingestUrl: `http://127.0.0.1:${port}/internal/observations`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
