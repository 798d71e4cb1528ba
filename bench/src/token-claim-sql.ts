import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type RunningStack, startStack } from '@voice/devstack/stack';
import pg from 'pg';
import { createBenchUsers } from './lib/token-users.ts';

/**
 * Postgres's share of a token grant, alone: the claim the token service runs (`claim_voice_session`, the same
 * statement text as token-service/src/postgres-database.ts) called one at a time over one connection, with the
 * backend's CPU read from /proc and pg_stat_statements (track = all, so the statements inside the plpgsql function
 * are listed too) saying where it goes.
 *
 *   npx tsx bench/src/token-claim-sql.ts [--users 2000] [--claims 2000] [--top 15] [--max-concurrent 3]
 *
 * The claims go round-robin over `--users` Studio users (made in bulk, bench/src/lib/token-users.ts) with the
 * production limits (3 calls at once, 10 a minute), after a warm-up of 2 claims per user: with --claims equal to
 * --users each user makes 3 claims, as in the token benchmark, and holds at most 2 open sessions when it claims.
 * More claims than users need `--max-concurrent` (and a per-minute limit) raised: then sessions pile up per user,
 * which is how the token benchmark ran until 2026-12 (300-3700 open sessions per user).
 * Prints JSON: backend CPU ms per claim, wall ms per claim, and the statements by total time.
 */
const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '2000' },
    claims: { type: 'string', default: '2000' },
    'max-concurrent': { type: 'string', default: '3' },
    top: { type: 'string', default: '15' },
  },
});
const users = Number(values.users);
const claims = Number(values.claims);
const maxConcurrent = Number(values['max-concurrent']);
// The per-minute limit (production: 10) rises with the concurrency limit when sessions are made to pile up.
const maxPerMinute = maxConcurrent <= 3 ? 10 : maxConcurrent;

const CLAIM_SQL =
  'select public.claim_voice_session(p_user_id => $1, p_session_id => $2, p_room_name => $3, ' +
  'p_conversation_id => $4, p_max_concurrent => $5, p_max_per_minute => $6, p_monthly_minutes => $7, ' +
  'p_max_call_seconds => $8, p_lease_seconds => $9) as result';

function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
}

let stack: RunningStack | undefined;
try {
  stack = await startStack({ handleSignals: true, log: () => {} });
  const admin = new pg.Client({ connectionString: stack.info.databaseUrl });
  await admin.connect();
  await admin.query(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
  await admin.query(`alter system set pg_stat_statements.track = 'all'`);
  await admin.end();
  await stack.postgres.stop();
  await stack.postgres.start();

  const ids = (await createBenchUsers(stack.info, users)).map((u) => u.id);
  const client = new pg.Client({ connectionString: stack.info.databaseUrl });
  await client.connect();
  await client.query('create extension if not exists pg_stat_statements');
  const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  const claim = (i: number) => {
    const session = crypto.randomUUID();
    return client.query(CLAIM_SQL, [
      ids[i % users],
      session,
      `voice-${session}`,
      null,
      maxConcurrent,
      maxPerMinute,
      600,
      1800,
      120,
    ]);
  };
  // Warm-up: plan caches of the function's statements, catalog caches.
  for (let i = 0; i < users * 2; i++) await claim(i);
  await client.query('select pg_stat_statements_reset()');
  const cpuBefore = cpuMsOf(backend);
  const started = performance.now();
  for (let i = 0; i < claims; i++) {
    const result = await claim(i);
    if ((result.rows[0] as { result: { code: string } }).result.code !== 'OK')
      throw new Error(`claim ${i}: ${JSON.stringify(result.rows[0])}`);
  }
  const wallMs = performance.now() - started;
  const cpuMs = cpuMsOf(backend) - cpuBefore;
  const statements = await client.query<{ query: string; calls: string; total: number; mean: number }>(
    `select regexp_replace(query, '\\s+', ' ', 'g') as query, calls, round(total_exec_time::numeric, 1)::float8 as total,
            round((total_exec_time / calls)::numeric, 4)::float8 as mean
     from pg_stat_statements where query not like '%pg_stat_statements%' order by total_exec_time desc limit $1`,
    [Number(values.top)],
  );
  await client.end();
  process.stdout.write(
    `${JSON.stringify(
      {
        users,
        claims,
        backendCpuMsPerClaim: Math.round((cpuMs / claims) * 1000) / 1000,
        wallMsPerClaim: Math.round((wallMs / claims) * 1000) / 1000,
        liveSessionsPerUserAtEnd: Math.round((claims + users * 2) / users),
        statements: statements.rows.map((r) => ({ ...r, query: r.query.slice(0, 200) })),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await stack?.stop();
}
