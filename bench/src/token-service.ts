import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '@voice/devstack/stack';
import { createTestUser } from '@voice/devstack/testing/users';
import { startTokenServiceProcess } from '@voice/token-service/devstack-service';

/**
 * Token issuance benchmark: POST /v1/token against a token-service PROCESS on a local stack (auth server,
 * gateway, PostgREST, Postgres, livekit-server), at 1, 10 and 50 concurrent clients. Every request is a full
 * grant: JWT check, the claim in Postgres (advisory lock, counts, insert), LiveKit token minting. Each connection
 * is its own Studio user (real users lock independently), and the limits are raised so nothing is refused.
 *
 *   npx tsx bench/src/token-service.ts [--duration 10]
 *
 * Writes bench/results/token-service.json and .md. Everything runs on this one machine (2 cores shared by the
 * load generator, the service, Postgres, PostgREST and the gateway), so the numbers are a floor, not a ceiling.
 */

interface Histogram {
  average: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonClient {
  setHeaders(headers: Record<string, string>): void;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  setupClient: (client: AutocannonClient) => void;
}) => Promise<AutocannonResult>;

// autocannon ships no type declarations; this is the slice of its API we use.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const CONCURRENCY = [1, 10, 50];
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface TokenBenchRow {
  connections: number;
  durationSeconds: number;
  requests: number;
  tokensPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCodes: Record<string, number>;
  errors: number;
}

export async function runTokenServiceBench(
  options: { durationSeconds?: number } = {},
): Promise<TokenBenchRow[]> {
  const duration = options.durationSeconds ?? 10;
  const stack = await startStack({ handleSignals: true });
  const logDir = mkdtempLogDir();
  const service = await startTokenServiceProcess(stack.info, logDir, {
    env: {
      LOG_LEVEL: 'warn',
      VOICE_MAX_CONCURRENT_SESSIONS: '1000000',
      VOICE_MAX_ISSUANCES_PER_MINUTE: '1000000',
    },
  });
  try {
    const maxConnections = Math.max(...CONCURRENCY);
    const users = await Promise.all(
      Array.from({ length: maxConnections }, () => createTestUser(stack.info, { tier: 'studio' })),
    );
    const rows: TokenBenchRow[] = [];
    for (const connections of CONCURRENCY) {
      // Warm-up: connections, JIT, PostgREST's schema cache, the kill-switch cache.
      await load(service.url, users, connections, 2);
      const result = await load(service.url, users, connections, duration);
      const statusCodes = Object.fromEntries(
        Object.entries(result.statusCodeStats).map(([code, stat]) => [code, Number(stat.count)]),
      );
      const granted = statusCodes['201'] ?? 0;
      rows.push({
        connections,
        durationSeconds: result.duration,
        requests: result.requests.total,
        tokensPerSecond: round(granted / result.duration),
        latencyMs: {
          p50: result.latency.p50,
          p90: result.latency.p90,
          p99: result.latency.p99,
          max: result.latency.max,
          mean: round(result.latency.average),
        },
        statusCodes,
        errors: result.errors + result.timeouts,
      });
      console.error(
        `token-service bench: ${connections} clients → ${round(granted / result.duration)} tokens/s, ` +
          `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
      );
    }
    return rows;
  } finally {
    await service.stop();
    await stack.stop();
  }
}

async function load(
  url: string,
  users: { accessToken: string }[],
  connections: number,
  duration: number,
): Promise<AutocannonResult> {
  let next = 0;
  return autocannon({
    url: `${url}/v1/token`,
    connections,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    // One user per connection.
    setupClient: (client) => {
      const user = users[next++ % users.length]!;
      client.setHeaders({ 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` });
    },
  });
}

function mkdtempLogDir(): string {
  const dir = path.join(os.tmpdir(), `token-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const round = (n: number) => Math.round(n * 10) / 10;

export function writeTokenBenchResults(rows: TokenBenchRow[]): { json: string; markdown: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const measuredAt = new Date().toISOString();
  // The load average tells a reader whether other work shared the machine during the run.
  const load = os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(' / ');
  const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${load}`;
  const json = path.join(RESULTS_DIR, 'token-service.json');
  writeFileSync(
    json,
    `${JSON.stringify({ benchmark: 'token-service issuance', measuredAt, machine, rows }, null, 2)}\n`,
  );
  const markdown = path.join(RESULTS_DIR, 'token-service.md');
  writeFileSync(
    markdown,
    [
      '# Token issuance (POST /v1/token)',
      '',
      `Measured ${measuredAt} on ${machine}; load generator, token service, Postgres, PostgREST, gateway and`,
      'auth server share the machine. Every request is a full grant (JWT, atomic claim + insert in Postgres,',
      'LiveKit token). One Studio user per connection. Goal: p99 under 50 ms at 50 clients.',
      '',
      '| clients | tokens/s | p50 ms | p90 ms | p99 ms | max ms | status codes | errors |',
      '|--:|--:|--:|--:|--:|--:|:--|--:|',
      ...rows.map(
        (r) =>
          `| ${r.connections} | ${r.tokensPerSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ` +
          `${r.latencyMs.max} | ${Object.entries(r.statusCodes)
            .map(([code, count]) => `${code}: ${count}`)
            .join(', ')} | ${r.errors} |`,
      ),
      '',
      'Reproduce: `npx tsx bench/src/token-service.ts`.',
      '',
    ].join('\n'),
  );
  return { json, markdown };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const durationFlag = process.argv.indexOf('--duration');
  const durationSeconds = durationFlag > 0 ? Number(process.argv[durationFlag + 1]) : undefined;
  const rows = await runTokenServiceBench({ durationSeconds });
  const written = writeTokenBenchResults(rows);
  console.error(`token-service bench: wrote ${written.json} and ${written.markdown}`);
}
