import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnManaged } from '../processes/managed-process.ts';
import { waitForHealth } from '../processes/wait-for-health.ts';
import type { StackInfo } from '../stack-info.ts';
import { missingProviderKeys, startSimulatedProviders } from '../standins/simulated.ts';
import type { StartedUpService, UpService } from './up-services.ts';

/**
 * Runs the agent worker for `npm start` the way production runs it (`tsx agent/src/main.ts start`, config from
 * the environment). With all three provider keys in the environment it uses the real Deepgram, Anthropic and
 * OpenAI; with any missing it starts the local stand-ins, prints the simulated-mode banner and hands the worker
 * their base URLs — the worker only ever sees ordinary configuration.
 */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = path.join(REPO_ROOT, 'agent/src/main.ts');

/** What the worker logs once it is registered with LiveKit and can take a call without loading models first. */
const READY_LINES = [/registered worker/, /job process prewarmed/];

/**
 * Calls one worker takes under `npm start` unless AGENT_MAX_CONCURRENT_CALLS says otherwise. Without an explicit
 * capacity a worker measures its load as the whole machine's CPU against a 0.7 threshold, so on a busy development
 * machine (a build, a test run, a second stack) an idle worker reports itself full and livekit-server dispatches
 * the call to nobody. A call costs the agent ~0.3 core (bench/README.md); 4 suits a laptop.
 */
export const NPM_START_MAX_CONCURRENT_CALLS = '4';

export interface AgentWorkerProcessOptions {
  /** Environment on top of the developer's (e.g. AGENT_NAME); the stack's endpoints and keys still win. */
  env?: Record<string, string>;
  /** Log file name inside logDir. */
  logName?: string;
  /** No simulated-mode banner on the console (tests). */
  quiet?: boolean;
}

/** The agent worker process as `npm start` runs it. */
export async function startAgentWorkerProcess(
  stack: StackInfo,
  logDir: string,
  options: AgentWorkerProcessOptions = {},
): Promise<StartedUpService & { logFile: string }> {
  const env = { ...process.env, ...options.env };
  const simulated =
    missingProviderKeys(env).length > 0 ? await startSimulatedProviders({ quiet: options.quiet }) : undefined;
  const providerEnv = simulated?.env ?? {
    DEEPGRAM_API_KEY: env.DEEPGRAM_API_KEY ?? '',
    ANTHROPIC_API_KEY: env.ANTHROPIC_API_KEY ?? '',
    OPENAI_API_KEY: env.OPENAI_API_KEY ?? '',
  };
  const logFile = path.join(logDir, options.logName ?? 'agent.log');
  const child = spawnManaged({
    name: 'agent',
    command: process.execPath,
    args: ['--import', 'tsx', MAIN, 'start'],
    logFile,
    cwd: REPO_ROOT,
    env: {
      // Anything the developer set (models, prompt, limits, AGENT_* ports) passes through; the stack's own
      // endpoints and keys win.
      ...env,
      AGENT_MAX_CONCURRENT_CALLS: env.AGENT_MAX_CONCURRENT_CALLS || NPM_START_MAX_CONCURRENT_CALLS,
      ONNXRUNTIME_NODE_INSTALL: 'skip',
      SUPABASE_URL: stack.supabaseUrl,
      SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
      LIVEKIT_URL: stack.livekit.url,
      LIVEKIT_API_KEY: stack.livekit.apiKey,
      LIVEKIT_API_SECRET: stack.livekit.apiSecret,
      ...providerEnv,
    },
  });
  try {
    await waitForHealth({
      what: 'agent worker (registered with livekit-server, one job process warm)',
      check: async () => {
        const log = readLog(logFile);
        return READY_LINES.every((line) => line.test(log));
      },
      process: child,
      logFile,
      // Importing @livekit/agents and loading the VAD model takes seconds on a cold, busy machine.
      timeoutMs: 120_000,
    });
  } catch (error) {
    await Promise.all([child.stop(5_000), simulated?.stop()]);
    throw error;
  }
  return {
    urls: {
      providers: simulated
        ? 'SIMULATED (local stand-ins; set DEEPGRAM_API_KEY, ANTHROPIC_API_KEY, OPENAI_API_KEY for real ones)'
        : 'Deepgram, Anthropic, OpenAI (keys from the environment)',
      log: logFile,
    },
    async stop() {
      // The worker first (it drains calls and flushes writes to the database), then the stand-ins it talks to.
      await child.stop(20_000);
      await simulated?.stop();
    },
    logFile,
  };
}

export const agentUpService: UpService = {
  name: 'agent worker',
  start: ({ stack, logDir }) => startAgentWorkerProcess(stack, logDir),
};

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
