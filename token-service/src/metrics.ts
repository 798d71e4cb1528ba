import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics, one registry per app instance (tests run two instances in one process). */
export interface TokenServiceMetrics {
  registry: Registry;
  issued: Counter;
  denied: Counter<'code'>;
  latency: Histogram<'outcome'>;
  webhooks: Counter<'event' | 'result'>;
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
  };
}
