import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ManagedProcess, spawnManaged } from '@voice/devstack/processes/managed-process';
import type { StackInfo } from '@voice/devstack/stack-info';
import type { ProviderStandins } from '@voice/devstack/standins/index';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');

export interface RunningAgentWorker {
  process: ManagedProcess;
  agentName: string;
  logFile: string;
  metricsUrl: string;
  log(): string;
  /** Calls the worker runs right now (agents-js's own `/worker` endpoint on its health port). */
  activeJobs(): Promise<number>;
  stop(): Promise<void>;
  /** SIGKILL the worker and its job processes at once (a crash: no shutdown path runs). */
  kill(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The real agent worker (`tsx agent/src/main.ts start`) as a separate process, registered with the stack's
 * livekit-server under its own agent name and pointed at the provider stand-ins through base URLs.
 */
export async function startAgentWorker(
  stack: StackInfo,
  standins: ProviderStandins,
  options: {
    agentName: string;
    env?: Record<string, string>;
    readyTimeoutMs?: number;
    /** `taskset -c` CPU list for the worker and its job processes (they inherit it); unset = not pinned. */
    cpus?: string;
  },
): Promise<RunningAgentWorker> {
  const metricsPort = await freePort();
  const logFile = join(stack.logDir, `agent-${options.agentName}-${Date.now()}.log`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'info',
    SUPABASE_URL: stack.supabaseUrl,
    SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
    LIVEKIT_URL: stack.livekit.url,
    LIVEKIT_API_KEY: stack.livekit.apiKey,
    LIVEKIT_API_SECRET: stack.livekit.apiSecret,
    AGENT_NAME: options.agentName,
    AGENT_HTTP_HOST: '127.0.0.1',
    AGENT_HEALTH_PORT: '0',
    AGENT_METRICS_PORT: String(metricsPort),
    AGENT_IDLE_PROCESSES: '1',
    // The test machine's CPU is shared with other suites: measure load in calls, not CPU.
    AGENT_MAX_CONCURRENT_CALLS: '4',
    DEEPGRAM_API_KEY: 'standin-deepgram-key',
    DEEPGRAM_BASE_URL: standins.deepgramUrl,
    ANTHROPIC_API_KEY: 'standin-anthropic-key',
    ANTHROPIC_BASE_URL: standins.anthropicUrl,
    OPENAI_API_KEY: 'standin-openai-key',
    OPENAI_BASE_URL: standins.openaiUrl,
    OPENAI_REALTIME_BASE_URL: standins.openaiRealtimeUrl,
    // The Realtime stand-in speaks TLS with a certificate made at its start: the worker trusts it as Node does any
    // extra CA (production needs nothing of the kind).
    NODE_EXTRA_CA_CERTS: standins.realtimeTls.caFile,
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    ...options.env,
  };
  const proc = spawnManaged({
    name: `agent-${options.agentName}`,
    command: TSX,
    args: [join(REPO_ROOT, 'agent/src/main.ts'), 'start'],
    logFile,
    env,
    cwd: REPO_ROOT,
    ...(options.cpus === undefined ? {} : { cpus: options.cpus }),
  });
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  // Ready = registered with LiveKit and one job process prewarmed (importing @livekit/agents alone takes
  // seconds on a busy 2-core machine; production keeps idle processes warm the same way).
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  while (!(/registered worker/.test(log()) && /job process prewarmed/.test(log()))) {
    if (!proc.running) throw new Error(`agent worker exited during start-up:\n${log().slice(-4000)}`);
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`agent worker did not register in time:\n${log().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    process: proc,
    agentName: options.agentName,
    logFile,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    log,
    async activeJobs() {
      // main.ts logs the health port it picked (AGENT_HEALTH_PORT=0 → a free one).
      const port = /"healthPort":(\d+)/.exec(log())?.[1];
      if (!port) throw new Error('the worker has not logged its health port');
      const info = (await (await fetch(`http://127.0.0.1:${port}/worker`)).json()) as { active_jobs: number };
      return info.active_jobs;
    },
    stop: () => proc.stop(15_000),
    kill() {
      // The job processes are the worker's children; kill the group's members we can see, then the worker.
      try {
        const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8')
          .trim()
          .split(/\s+/);
        for (const pid of children.filter(Boolean)) killTree(Number(pid));
      } catch {
        // no children
      }
      killTree(proc.pid);
    },
  };
}

function killTree(pid: number): void {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    for (const child of children.filter(Boolean)) killTree(Number(child));
  } catch {
    // gone already
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
