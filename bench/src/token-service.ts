import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTokenServiceProcess } from '@voice/devstack/services/token-service';
import { startStack } from '@voice/devstack/stack';
import { startWindow } from './lib/process-usage.ts';
import { type LoadResult, startLoad } from './lib/token-load.ts';
import { createBenchUsers } from './lib/token-users.ts';

/**
 * Token issuance benchmark: POST /v1/token against a token-service PROCESS on a local stack (auth server,
 * gateway, PostgREST, Postgres, livekit-server), at 1, 10 and 50 concurrent clients. Every request is a full
 * grant: JWT check, the claim in Postgres (advisory lock, counts, insert), LiveKit token minting. Each connection
 * is its own Studio user (real users lock independently), and the limits are raised so nothing is refused.
 *
 *   npx tsx bench/src/token-service.ts [--duration 10] [--service-env KEY=VALUE ...]
 *
 * Writes bench/results/token-service.json and .md. Everything runs on this one machine (2 cores shared by the
 * load generator, the service, Postgres, PostgREST and the gateway), so the numbers are a floor, not a ceiling.
 * To say where the CPU goes, each level also records the CPU time of each process in the chain (from /proc, and
 * the load generator's own count) divided by the tokens granted: "CPU ms per token", piece by piece. The load
 * generator (autocannon) runs in its own process: in this one it would share an event loop with the gateway.
 *
 * Users as in production: the service runs with the production limits (3 calls at once, 10 tokens a minute) and
 * each user is asked for GRANTS_PER_USER tokens, so every claim finds what a real user's claim finds (at most 2 open
 * sessions, a few issuances in the last minute) and every request is granted. That takes thousands of users per
 * level (bench/src/lib/token-users.ts creates them in bulk); the warm-up's rate sizes the measured run's pool.
 * (Until 2026-12 the bench reused one user per connection with the limits raised: each piled up 300-3700 open
 * sessions that every claim scanned, which no real user can have.)
 */

const CONCURRENCY = [1, 10, 50];
/**
 * Tokens asked for per user: the production limit on calls at once (VOICE_MAX_CONCURRENT_SESSIONS' default), so a
 * user's last grant finds 2 open sessions and none is refused. Nobody joins the bench's rooms, so every granted
 * session stays open for its lease.
 */
const GRANTS_PER_USER = 3;
const WARM_UP_SECONDS = 2;
/** Sizes the warm-up's user pool (tokens/s no level here reaches; the measured run is sized from the warm-up). */
const WARM_UP_RATE_CEILING = 3000;
/** The processes a grant costs in production; the rest of the table (load generator, gateway) is the rig. */
const GRANT_PATH = ['token service', 'PostgREST', 'Postgres'];
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface TokenBenchRow {
  connections: number;
  durationSeconds: number;
  requests: number;
  tokensPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCodes: Record<string, number>;
  errors: number;
  /** CPU milliseconds per granted token, per process, and their total. */
  cpuMsPerToken?: Record<string, number>;
  /** CPU cores busy during the level, per process (2 = this whole machine). */
  cpuCores?: Record<string, number>;
  /**
   * CPU milliseconds per granted token summed over the processes ON THE GRANT'S PATH (GRANT_PATH: token service,
   * PostgREST when the service goes through it, Postgres postmaster + backends), the figure issue 16 sets a budget
   * for. The load generator and the devstack gateway/auth server are the rig: in `cpuMsPerToken`, not in this sum.
   */
  cpuMsPerGrant?: number;
  /** The processes summed in cpuMsPerGrant (those that did work during the level). */
  grantPath?: string[];
  /** Extra token-service environment the run used (e.g. a different database path), if any. */
  serviceEnv?: Record<string, string>;
}

export async function runTokenServiceBench(
  options: { durationSeconds?: number; serviceEnv?: Record<string, string> } = {},
): Promise<TokenBenchRow[]> {
  const duration = options.durationSeconds ?? 10;
  const serviceEnv = options.serviceEnv ?? {};
  const stack = await startStack({ handleSignals: true });
  const logDir = mkdtempLogDir();
  const service = await startTokenServiceProcess(stack.info, logDir, {
    env: {
      LOG_LEVEL: 'warn',
      // The production limits (the defaults) stay on: GRANTS_PER_USER keeps every user within them.
      ...serviceEnv,
      // `--service-env TOKEN_DATABASE_URL=stack`: the direct Postgres path, to this stack's database.
      ...(serviceEnv.TOKEN_DATABASE_URL === 'stack' ? { TOKEN_DATABASE_URL: stack.info.databaseUrl } : {}),
    },
  });
  const [livekitPid, postgrestPid, postgresPid] = stack.pids();
  try {
    const rows: TokenBenchRow[] = [];
    for (const connections of CONCURRENCY) {
      const spec = { url: service.url, connections, grantsPerUser: GRANTS_PER_USER };
      // Warm-up: connections, JIT, PostgREST's schema cache, the kill-switch cache; its rate sizes the next pool.
      const warmUpUsers = usersFor(WARM_UP_RATE_CEILING * WARM_UP_SECONDS, connections);
      const warmUp = await startLoad({
        ...spec,
        accessTokens: (await createBenchUsers(stack.info, warmUpUsers)).map((u) => u.accessToken),
        durationSeconds: WARM_UP_SECONDS,
      }).result;
      const warmUpRate = (warmUp.statusCodeStats['201']?.count ?? 0) / warmUp.duration;
      // Twice the warm-up's rate: a measured run that outpaces its pool would reuse users past the limits.
      const accessTokens = (
        await createBenchUsers(stack.info, usersFor(Math.max(100, 2 * warmUpRate) * duration, connections))
      ).map((u) => u.accessToken);
      const windows = {
        'token service': startWindow(service.pid),
        PostgREST: postgrestPid === undefined ? undefined : startWindow(postgrestPid),
        Postgres: postgresPid === undefined ? undefined : startWindow(postgresPid), // postmaster + backends
        'livekit-server': livekitPid === undefined ? undefined : startWindow(livekitPid),
      };
      // The devstack gateway and auth server run in THIS process; during the load nothing else here works.
      const ownBefore = process.cpuUsage();
      const startedAt = performance.now();
      const result = await startLoad({ ...spec, accessTokens, durationSeconds: duration }).result;
      const wallSeconds = (performance.now() - startedAt) / 1000;
      const own = process.cpuUsage(ownBefore);
      const cpuSeconds: Record<string, number> = {
        'load generator': result.loadCpuSeconds,
        'gateway (devstack)': (own.user + own.system) / 1e6,
      };
      for (const [name, window] of Object.entries(windows)) {
        if (window) cpuSeconds[name] = window.end().totalCpu * wallSeconds;
      }
      const row = toRow(connections, result, cpuSeconds, wallSeconds);
      if (Object.keys(serviceEnv).length > 0) row.serviceEnv = serviceEnv;
      rows.push(row);
      const refused = Object.entries(row.statusCodes).filter(([code]) => code !== '201');
      if (refused.length > 0) {
        console.error(
          `token-service bench: ${connections} clients: not every request was granted ` +
            `(${JSON.stringify(row.statusCodes)}); the user pool (${accessTokens.length}) may have run out`,
        );
      }
      console.error(
        `token-service bench: ${connections} clients → ${row.tokensPerSecond} tokens/s, ` +
          `p50 ${row.latencyMs.p50} ms, p99 ${row.latencyMs.p99} ms; CPU ms/token ${JSON.stringify(row.cpuMsPerToken)}`,
      );
    }
    return rows;
  } finally {
    await service.stop();
    await stack.stop();
  }
}

function toRow(
  connections: number,
  result: LoadResult,
  cpuSeconds: Record<string, number>,
  wallSeconds: number,
): TokenBenchRow {
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([code, stat]) => [code, Number(stat.count)]),
  );
  const granted = statusCodes['201'] ?? 0;
  // Idle processes (livekit-server) are left out of the table.
  const busy = Object.entries(cpuSeconds).filter(([, s]) => s >= 0.01 * wallSeconds);
  const withTotal = [...busy, ['total', busy.reduce((sum, [, s]) => sum + s, 0)] as const];
  const onPath = busy.filter(([name]) => GRANT_PATH.includes(name));
  const pathSeconds = onPath.reduce((sum, [, s]) => sum + s, 0);
  return {
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
    cpuMsPerToken: Object.fromEntries(
      withTotal.map(([name, s]) => [name, granted > 0 ? round2((s * 1000) / granted) : 0]),
    ),
    cpuCores: Object.fromEntries(withTotal.map(([name, s]) => [name, round2(s / wallSeconds)])),
    cpuMsPerGrant: granted > 0 ? round2((pathSeconds * 1000) / granted) : 0,
    grantPath: onPath.map(([name]) => name),
  };
}

/** Users for `grants` requests at GRANTS_PER_USER each, and at least one per connection. */
function usersFor(grants: number, connections: number): number {
  return Math.max(connections, Math.ceil(grants / GRANTS_PER_USER) + connections);
}

function mkdtempLogDir(): string {
  const dir = path.join(os.tmpdir(), `token-bench-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const round = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;

export function writeTokenBenchResults(rows: TokenBenchRow[]): { json: string; markdown: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  // The direct-Postgres path gets its own files, so a run of one path never overwrites the other's results.
  const name = rows.some((r) => r.serviceEnv?.TOKEN_DATABASE_URL)
    ? 'token-service-direct-db'
    : 'token-service';
  const measuredAt = new Date().toISOString();
  // The load average tells a reader whether other work shared the machine during the run.
  const load = os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(' / ');
  const machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${load}`;
  const json = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(
    json,
    `${JSON.stringify({ benchmark: 'token-service issuance', measuredAt, machine, rows }, null, 2)}\n`,
  );
  const markdown = path.join(RESULTS_DIR, `${name}.md`);
  const processes = [...new Set(rows.flatMap((r) => Object.keys(r.cpuMsPerToken ?? {})))];
  const serviceEnv = rows.find((r) => r.serviceEnv)?.serviceEnv;
  writeFileSync(
    markdown,
    [
      '# Token issuance (POST /v1/token)',
      '',
      `Measured ${measuredAt} on ${machine}; load generator, token service, Postgres, PostgREST, gateway and`,
      'auth server share the machine. Every request is a full grant (JWT, atomic claim + insert in Postgres,',
      `LiveKit token). Production limits; each Studio user asks for ${GRANTS_PER_USER} tokens (bench/README.md). Goal: p99`,
      'under 50 ms at 50 clients.',
      ...(serviceEnv ? ['', `Token service env: ${Object.keys(serviceEnv).join(', ')} set.`] : []),
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
      'CPU milliseconds per granted token, per process (cores busy in brackets). "grant path" sums the processes',
      'a grant costs in production (token service, PostgREST when on the path, Postgres); the load generator and',
      'the devstack gateway are the rig, in "total" only:',
      '',
      `| clients | ${processes.join(' | ')} | grant path |`,
      `|--:|${processes.map(() => '--:').join('|')}|--:|`,
      ...rows.map(
        (r) =>
          `| ${r.connections} | ${processes
            .map((p) =>
              r.cpuMsPerToken?.[p] === undefined ? '' : `${r.cpuMsPerToken[p]} (${r.cpuCores?.[p]})`,
            )
            .join(' | ')} | ${r.cpuMsPerGrant ?? ''} (${(r.grantPath ?? []).join(' + ')}) |`,
      ),
      '',
      'Reproduce: `npx tsx bench/src/token-service.ts` (or `npm run bench -- token`).',
      '',
    ].join('\n'),
  );
  return { json, markdown };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const durationFlag = process.argv.indexOf('--duration');
  const durationSeconds = durationFlag > 0 ? Number(process.argv[durationFlag + 1]) : undefined;
  const serviceEnv: Record<string, string> = {};
  process.argv.forEach((arg, i) => {
    const pair = arg === '--service-env' ? process.argv[i + 1] : undefined;
    const eq = pair?.indexOf('=') ?? -1;
    if (pair && eq > 0) serviceEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  });
  const rows = await runTokenServiceBench({ durationSeconds, serviceEnv });
  const written = writeTokenBenchResults(rows);
  console.error(`token-service bench: wrote ${written.json} and ${written.markdown}`);
}
