import { createServer } from 'node:http';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics, one registry per app instance (tests run two instances in one process). */
export interface TokenServiceMetrics {
  registry: Registry;
  issued: Counter;
  denied: Counter<'code'>;
  latency: Histogram<'outcome'>;
  webhooks: Counter<'event' | 'result'>;
  watchdog: Counter<'outcome'>;
}

export function createMetrics(): TokenServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'token_service_' });
  return {
    registry,
    issued: new Counter({
      name: 'voice_tokens_issued_total',
      help: 'LiveKit tokens issued (sessions granted)',
      registers: [registry],
    }),
    denied: new Counter({
      name: 'voice_tokens_denied_total',
      help: 'Token requests refused, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'voice_token_request_duration_seconds',
      help: 'Time to answer POST /v1/token, by outcome (issued or the error code)',
      labelNames: ['outcome'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    webhooks: new Counter({
      name: 'livekit_webhooks_total',
      help: 'LiveKit webhooks received, by event and result',
      labelNames: ['event', 'result'],
      registers: [registry],
    }),
    watchdog: new Counter({
      name: 'voice_dispatch_watchdog_checks_total',
      help: 'Dispatch watchdog checks of calls waiting for their agent, by outcome (redispatched, gave_up, ...)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

/**
 * A listener that serves only `GET /metrics`, for deployments that keep metrics off the public port
 * (TOKEN_METRICS_PORT). Plain node:http: one route, no framework needed.
 */
export async function startMetricsServer(
  registry: Registry,
  options: { host: string; port: number },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":{"code":"NOT_FOUND","message":"Only GET /metrics is served here."}}');
      return;
    }
    registry.metrics().then(
      (body) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(body);
      },
      () => {
        response.writeHead(503, { 'content-type': 'text/plain' });
        response.end('metrics unavailable');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
