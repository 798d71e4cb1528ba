import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTokenService } from '../../src/app.ts';
import { startMetricsServer } from '../../src/metrics.ts';
import { testConfig } from '../support/config.ts';

// With TOKEN_METRICS_PORT set, metrics must not be reachable on the public port (on Fly that port faces the
// internet) and must be served on their own listener.
const values = {
  supabaseUrl: 'http://127.0.0.1:9',
  serviceRoleKey: 'x'.repeat(40),
  jwtSecret: 'unit-test-jwt-secret-with-at-least-32-characters',
  livekit: {
    url: 'ws://127.0.0.1:7880',
    apiKey: 'devkey',
    apiSecret: 'unit-test-livekit-secret-32-characters!',
  },
};

describe('metrics on a separate port', () => {
  const config = testConfig({ ...values, env: { TOKEN_METRICS_PORT: '0', LOG_LEVEL: 'silent' } });
  let app: Awaited<ReturnType<typeof buildTokenService>>;
  let metrics: Awaited<ReturnType<typeof startMetricsServer>>;

  beforeAll(async () => {
    app = await buildTokenService(config);
    metrics = await startMetricsServer(app.metrics.registry, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await Promise.all([app.close(), metrics.close()]);
  });

  it('parses the variable', () => {
    expect(config.metricsPort).toBe(0);
  });

  it('answers 404 for /metrics on the public port', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('serves the service metrics on the metrics listener only', async () => {
    // A request through the public app is counted, then visible on the metrics port.
    await app.inject({
      method: 'POST',
      url: '/v1/token',
      payload: '{}',
      headers: { 'content-type': 'application/json' },
    });
    const response = await fetch(`http://127.0.0.1:${metrics.port}/metrics`);
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toContain('voice_tokens_denied_total{code="UNAUTHENTICATED"} 1');
    expect((await fetch(`http://127.0.0.1:${metrics.port}/v1/token`)).status).toBe(404);
  });
});

describe('metrics on the main port (no TOKEN_METRICS_PORT)', () => {
  it('serves /metrics on the public port for local development', async () => {
    const app = await buildTokenService(testConfig({ ...values, env: { LOG_LEVEL: 'silent' } }));
    try {
      const response = await app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('voice_token_request_duration_seconds');
    } finally {
      await app.close();
    }
  });
});
