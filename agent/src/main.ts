import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type AgentServer, cli, ServerOptions } from '@livekit/agents';
import { createLogger } from '@voice/core';
import { loadAgentConfig } from '@voice/core/config/agent';
import { startMetricsServer } from './metrics/metrics-server.ts';
import { OBSERVATIONS_URL_ENV } from './metrics/observation-reporter.ts';
import { AgentMetrics } from './metrics/prometheus.ts';
import { redactFrameworkLogs } from './pipeline/framework-log-privacy.ts';

/**
 * Worker entry: `tsx agent/src/main.ts start`. Registers with LiveKit under the configured agent name, so it only
 * receives explicit dispatches (the token service's), and forks agent/src/job.ts per call. Nothing here talks to
 * LiveKit Cloud: VAD and turn handling are local, providers come from config.
 */
const config = loadAgentConfig(process.env);
const logger = createLogger({ name: 'agent', level: config.logLevel, includeSensitive: config.logSensitive });

const metrics = new AgentMetrics();
const metricsServer = await startMetricsServer({
  metrics,
  host: config.http.host,
  port: config.http.metricsPort,
  logger,
});
// Job processes inherit the environment: this is how they find the metrics server.
process.env[OBSERVATIONS_URL_ENV] = metricsServer.ingestUrl;

/** agents-js treats port 0 as "use 8081" in start mode, so pick a free port ourselves when asked for any. */
async function resolvePort(port: number, host: string): Promise<number> {
  if (port !== 0) return port;
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const free = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(free));
    });
  });
}
const healthPort = await resolvePort(config.http.healthPort, config.http.host);

const providers = {
  deepgram: config.deepgram.baseUrl ?? 'deepgram (public API)',
  anthropic: config.anthropic.baseUrl ?? 'anthropic (public API)',
  openai: config.openai.baseUrl ?? 'openai (public API)',
};
logger.info(
  { agentName: config.agentName, providers, metricsPort: metricsServer.port, healthPort },
  'agent worker starting',
);

cli.runApp(
  new ServerOptions({
    agent: fileURLToPath(new URL('./job.ts', import.meta.url)),
    agentName: config.agentName,
    wsURL: config.livekit.url,
    apiKey: config.livekit.apiKey,
    apiSecret: config.livekit.apiSecret,
    host: config.http.host,
    port: healthPort,
    numIdleProcesses: config.idleProcesses,
    loadThreshold: config.loadThreshold,
    ...(config.maxConcurrentCalls
      ? {
          loadFunc: async (server: AgentServer) =>
            server.activeJobs.length / (config.maxConcurrentCalls ?? 1),
        }
      : {}),
    initializeProcessTimeout: 60_000,
    logLevel: config.logLevel === 'silent' ? 'fatal' : config.logLevel,
  }),
);
redactFrameworkLogs({ includeSensitive: config.logSensitive });
