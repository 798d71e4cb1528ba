import { createLogger } from '@voice/core';
import { loadTokenServiceConfig } from '@voice/core/config/token-service';
import { buildTokenService } from './app.ts';
import { startMetricsServer } from './metrics.ts';

/**
 * Process entry: `tsx token-service/src/main.ts`. Reads the environment once, serves until SIGTERM/SIGINT, then
 * stops accepting connections, lets in-flight requests finish (bounded), and exits.
 */
const SHUTDOWN_GRACE_MS = 10_000;

const config = loadTokenServiceConfig(process.env);
const logger = createLogger({
  name: 'token-service',
  level: config.log.level,
  includeSensitive: config.log.includeSensitive,
});
const app = await buildTokenService(config, { logger });

// Declared before the signal handlers: a signal may arrive while the listeners are still starting.
let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  try {
    await Promise.all([app.close(), metricsServer?.close()]);
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'error during shutdown');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

const address = await app.listen({ port: config.port, host: config.host });
metricsServer =
  config.metricsPort === undefined
    ? undefined
    : await startMetricsServer(app.metrics.registry, { host: config.host, port: config.metricsPort });
logger.info({ address, metricsPort: metricsServer?.port }, 'token service listening');
