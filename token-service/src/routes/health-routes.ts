import type { TokenServiceConfig } from '@voice/core/config/token-service';
import type { FastifyPluginAsync } from 'fastify';
import type { Database } from '../database.ts';
import { sendApiError, unavailable } from '../errors.ts';
import type { TokenServiceMetrics } from '../metrics.ts';

export interface HealthRoutesOptions {
  config: TokenServiceConfig;
  db: Database;
  metrics: TokenServiceMetrics;
}

/** GET /healthz (the process is up), /readyz (the database answers), /metrics (unless on its own port). */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  const { config, db, metrics } = options;

  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    try {
      await db.rpc('voice_flags_snapshot', {});
      return reply.send({ status: 'ready' });
    } catch (error) {
      request.log.warn({ err: String(error) }, 'not ready: database unavailable');
      return sendApiError(reply, unavailable(config.unavailableRetryAfterSeconds));
    }
  });

  // With a metrics port configured, main.ts serves the registry there and the public port has no /metrics.
  if (config.metricsPort === undefined) {
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }
};
