import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type AgentServer, cli, ServerOptions } from '@livekit/agents';
import { createLogger, createServiceClient } from '@voice/core';
import { loadAgentConfig } from '@voice/core/config/agent';
import { JobCapacity, jobRequestHandler } from './job-admission.ts';
import { applyJobLoader, applyJobMallocArenas, applyJobSemiSpace } from './job-loader.ts';
import { startMetricsServer } from './metrics/metrics-server.ts';
import { OBSERVATIONS_URL_ENV } from './metrics/observation-reporter.ts';
import { AgentMetrics } from './metrics/prometheus.ts';
import { ModelStatus } from './models/model-status.ts';
import { providerModelProbe } from './models/provider-models.ts';
import { redactFrameworkLogs } from './pipeline/framework-log-privacy.ts';
import { canRaisePriority } from './process-priority.ts';

/**
 * Worker entry: `tsx agent/src/main.ts start`. Registers with LiveKit under the configured agent name, so it only
 * receives explicit dispatches (the token service's), and forks agent/src/job.ts per call. Nothing here talks to
 * LiveKit Cloud: VAD and turn handling are local, providers come from config.
 */
const config = loadAgentConfig(process.env);
const logger = createLogger({ name: 'agent', level: config.logLevel, includeSensitive: config.logSensitive });

const metrics = new AgentMetrics();
// The configured models against the providers' calendar (loadAgentConfig refused what is past its date) and, with
// AGENT_MODEL_CHECK=on, against the providers themselves; again every 10 minutes. While a model a call needs is
// unusable the worker refuses every job and /readyz says why.
const modelStatus = new ModelStatus({
  config,
  logger,
  probe: providerModelProbe(config),
  onShutdownDays: (model, role, days) => metrics.modelShutdownDays(model, role, days),
});
await modelStatus.start();
const metricsServer = await startMetricsServer({
  metrics,
  host: config.http.host,
  port: config.http.metricsPort,
  logger,
  readiness: () => ({ ...modelStatus.readiness() }),
});
// Job processes inherit the environment: this is how they find the metrics server.
process.env[OBSERVATIONS_URL_ENV] = metricsServer.ingestUrl;
if (config.jobStartNice > 0 && !canRaisePriority()) {
  logger.info(
    { jobStartNice: config.jobStartNice },
    'job processes start at normal priority: raising it back for a call needs root or CAP_SYS_NICE',
  );
} else if (config.jobStartNice > 0) {
  // Each forked job process lowers its own priority before it imports anything (agents-js forks with our env);
  // job.ts raises it back when the process is given a call. See AGENT_JOB_START_NICE.
  const lower = `--import=data:text/javascript,import{setPriority}from'node:os';try{setPriority(${config.jobStartNice})}catch{}`;
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, lower].filter(Boolean).join(' ');
}

// Job processes (one per call) load the TypeScript sources with Node's own type stripping where this Node has it:
// tsx's loader would cost each of them ~33 MiB and ~1 s of start-up (AGENT_JOB_LOADER, job-loader.ts).
const jobLoader = applyJobLoader(config.jobLoader);
applyJobSemiSpace(config.jobSemiSpaceMb);
applyJobMallocArenas();

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
/** livekit-server's default `agents.target_load`: at or above it, a worker gets no new jobs (livekit.yaml can change it). */
const LIVEKIT_TARGET_LOAD = 0.7;

const healthPort = await resolvePort(config.http.healthPort, config.http.host);
/** The call cap, also enforced when a job is offered (the load reports alone lag by up to 2.5 s). */
const capacity = config.maxConcurrentCalls ? new JobCapacity(config.maxConcurrentCalls) : undefined;

const providers = {
  deepgram: config.deepgram.baseUrl ?? 'deepgram (public API)',
  anthropic: config.anthropic.baseUrl ?? 'anthropic (public API)',
  openai: config.openai.baseUrl ?? 'openai (public API)',
};
logger.info(
  {
    agentName: config.agentName,
    providers,
    models: Object.fromEntries(config.models.checks.map((c) => [c.variable, c.model])),
    metricsPort: metricsServer.port,
    healthPort,
    jobLoader,
    jobSemiSpaceMb: config.jobSemiSpaceMb,
    node: process.version,
  },
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
    // A job for a session that is over (a rejoin with a used token) is refused here, before any job process
    // connects or calls a provider.
    requestFunc: jobRequestHandler({
      db: createServiceClient(config.supabase.url, config.supabase.serviceRoleKey),
      logger,
      ...(capacity ? { capacity } : {}),
      models: () => modelStatus.readiness(),
    }),
    ...(config.maxConcurrentCalls
      ? {
          // livekit-server only dispatches to a worker whose reported load is below its `agents.target_load`
          // (0.7 by default): the load must reach that mark at exactly AGENT_MAX_CONCURRENT_CALLS calls, not before.
          // Reporting calls/max (with the 0.7 threshold) stopped dispatch one call early or more: a cap of 4 took
          // 3 calls, and the 5-call density run left 2 callers waiting for an agent that never came.
          loadFunc: async (server: AgentServer) => {
            // The only place agents-js hands us the server: the capacity check counts its running jobs.
            capacity?.observe(server);
            return (server.activeJobs.length / (config.maxConcurrentCalls ?? 1)) * LIVEKIT_TARGET_LOAD;
          },
          loadThreshold: LIVEKIT_TARGET_LOAD,
        }
      : { loadThreshold: config.loadThreshold }),
    // Start-up (imports, TypeScript, VAD model) takes 3-6 s of CPU; niced (AGENT_JOB_START_NICE) on a saturated host
    // it can take over a minute, and a time-out kills the process and starts over. A hung one is still caught.
    initializeProcessTimeout: 150_000,
    logLevel: config.logLevel === 'silent' ? 'fatal' : config.logLevel,
  }),
);
redactFrameworkLogs({ includeSensitive: config.logSensitive });
