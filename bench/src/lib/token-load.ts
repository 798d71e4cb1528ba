import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The token benchmark's load generator (autocannon), run as its OWN process: the devstack gateway and auth server
 * live in the benchmark process, and sharing one event loop with them would both delay autocannon's timestamps
 * (latency counted that is not the service's) and hide which side burns the CPU.
 *
 *   child: `tsx bench/src/lib/token-load.ts` reads a LoadSpec as JSON on stdin, prints the autocannon result.
 */
export interface LoadSpec {
  url: string;
  /**
   * Users' access tokens. Connection i uses tokens i, i + connections, i + 2 × connections, ... in turn, each for
   * `grantsPerUser` requests: connections never share a user, and no user is asked for more than that many.
   */
  accessTokens: string[];
  grantsPerUser: number;
  connections: number;
  durationSeconds: number;
}

interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
export interface LoadResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
  /** CPU seconds (user + system) the load generator itself used during the run. */
  loadCpuSeconds: number;
}

export interface RunningLoad {
  pid: number;
  result: Promise<LoadResult>;
}

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Starts the load generator process; `pid` lets the caller measure its CPU. */
export function startLoad(spec: LoadSpec): RunningLoad {
  // From the repository root, where `--import tsx` resolves whatever the caller's working directory.
  const child = spawn(process.execPath, ['--import', 'tsx', SELF], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: REPO_ROOT,
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stdin.end(JSON.stringify(spec));
  const result = new Promise<LoadResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`token load generator exited with ${code}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch (error) {
        reject(error);
      }
    });
  });
  return { pid: child.pid ?? -1, result };
}

interface AutocannonClient {
  setHeaders(headers: Record<string, string>): void;
  on(event: 'response', listener: () => void): void;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  setupClient: (client: AutocannonClient) => void;
}) => Promise<Omit<LoadResult, 'loadCpuSeconds'>>;

async function runChild(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const spec = JSON.parse(input) as LoadSpec;
  // autocannon ships no type declarations; this is the slice of its API we use.
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let nextConnection = 0;
  // Users per connection: when a long run outlasts them, a connection starts over at its first user (the limits
  // then refuse some requests, which the status codes show).
  const usersPerConnection = Math.max(1, Math.floor(spec.accessTokens.length / spec.connections));
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url: `${spec.url}/v1/token`,
    connections: spec.connections,
    duration: spec.durationSeconds,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    setupClient: (client) => {
      const connection = nextConnection++;
      let responses = 0;
      const useUser = (n: number) => {
        const token = spec.accessTokens[(connection + n * spec.connections) % spec.accessTokens.length]!;
        client.setHeaders({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
      };
      useUser(0);
      // 'response' is emitted before the connection sends its next request, so that request uses the new user.
      client.on('response', () => {
        responses++;
        if (responses % spec.grantsPerUser === 0)
          useUser((responses / spec.grantsPerUser) % usersPerConnection);
      });
    },
  });
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(JSON.stringify({ ...result, loadCpuSeconds: (cpu.user + cpu.system) / 1e6 }));
}

if (process.argv[1] && SELF === process.argv[1]) await runChild();
