import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startControlServer } from './control-server.ts';
import { bootstrapSupabaseRoles } from './database/bootstrap.ts';
import { applyMigrations } from './database/migrations.ts';
import { claimStackDir, sweepAbandonedStackDirs } from './dir-lock.ts';
import { DevstackError } from './errors.ts';
import { startGateway } from './gateway.ts';
import { randomJwtSecret, signApiKey } from './keys.ts';
import { choosePort } from './ports.ts';
import { startLivekit } from './processes/livekit.ts';
import { resolveLivekitServer } from './processes/livekit-binary.ts';
import { startPostgres, withClient } from './processes/postgres.ts';
import { startPostgrest } from './processes/postgrest.ts';
import { httpOk, waitForHealth } from './processes/wait-for-health.ts';
import { startStackAuthServer } from './stack-auth.ts';
import type { StackInfo } from './stack-info.ts';

export interface StackPorts {
  /** Supabase-style gateway (supabaseUrl). */
  gateway?: number;
  postgres?: number;
  postgrest?: number;
  postgrestAdmin?: number;
  auth?: number;
  /** livekit-server signal port (HTTP/WebSocket). */
  livekit?: number;
  livekitRtcTcp?: number;
  livekitRtcUdp?: number;
  control?: number;
}

export interface StackOptions {
  /**
   * Where data and logs go. Default: a fresh temp dir, removed on stop. A given dir is kept (and its database
   * reused on the next start, with only new migrations applied).
   */
  dir?: string;
  /** Keep the temp dir on stop (to read logs after a failed run). */
  keepDir?: boolean;
  /**
   * Run PostgreSQL without fsync (a machine crash may corrupt the data; a process crash cannot). Much faster on a
   * busy disk. Default: true for the temp dir, false for a given `dir`.
   */
  disposableData?: boolean;
  /** HS256 secret for user tokens and the API keys (32+ chars). Default: random per stack. */
  jwtSecret?: string;
  livekitKeys?: { apiKey: string; apiSecret: string };
  /** Where livekit-server sends its webhooks (e.g. the token service's /v1/livekit/webhook). */
  livekitWebhookUrls?: readonly string[];
  /** Fixed ports; any left out (or 0) is chosen free per run. */
  ports?: StackPorts;
  /** Progress lines (e.g. the one-time livekit-server build). Default: stderr. */
  log?: (line: string) => void;
  /** On SIGINT/SIGTERM stop the stack and exit (default true). */
  handleSignals?: boolean;
}

export interface RunningStack {
  info: StackInfo;
  /** Pids of every process the stack runs right now (tests check none survives stop()). */
  pids(): number[];
  /** keepLogs: remove the stack's data but keep its logs dir (a test run that failed keeps what the services said). */
  stop(options?: { keepLogs?: boolean }): Promise<void>;
  postgres: { stop(): Promise<void>; start(): Promise<void> };
  /** Milliseconds from the start of startStack() until each part was ready (for benchmarks and slow-start hunts). */
  startupTimings: Record<string, number>;
}

/** The dev API key pair livekit-server's own --dev mode uses. */
export const DEV_LIVEKIT_KEYS = { apiKey: 'devkey', apiSecret: 'secret' } as const;

/**
 * Starts the whole local stack on 127.0.0.1 and returns once every part answers its health check:
 * PostgreSQL → Supabase roles → auth server (migrates `auth`) → supabase/migrations → PostgREST → gateway,
 * with livekit-server starting alongside. On any failure everything already started is stopped again.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(options);
    } catch (error) {
      // A port found free can be taken before the child binds it (another stack, or an outgoing connection's
      // ephemeral port). Ports the caller fixed are reported, not retried (choosePort names them).
      const lostPortRace =
        error instanceof DevstackError && /address already in use|could not bind/i.test(error.message);
      if (!lostPortRace || attempt >= 3) throw error;
      (options.log ?? console.error)(`devstack: a port was taken during start-up; retrying (${attempt}/2)`);
    }
  }
}

async function startStackOnce(options: StackOptions): Promise<RunningStack> {
  const log = options.log ?? ((line: string) => console.error(line));
  const jwtSecret = options.jwtSecret ?? randomJwtSecret();
  if (jwtSecret.length < 32) throw new DevstackError('The stack JWT secret must be at least 32 characters.');
  const ownsDir = !options.dir;
  if (ownsDir) sweepAbandonedStackDirs(os.tmpdir());
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'devstack-'));
  const logDir = path.join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const releaseDir = claimStackDir(dir);
  const livekitKeys = options.livekitKeys ?? DEV_LIVEKIT_KEYS;
  const requested = options.ports ?? {};

  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async (keepLogs = false) => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => log(`devstack: error while stopping: ${String(error)}`));
    }
    releaseDir();
    if (!ownsDir || options.keepDir) return;
    if (!keepLogs) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    // Without its pid file the dir is never swept as abandoned: the logs stay until someone deletes them.
    for (const entry of readdirSync(dir)) {
      if (entry !== 'logs') rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  };

  const began = Date.now();
  const startupTimings: Record<string, number> = {};
  const mark = (part: string) => {
    startupTimings[part] = Date.now() - began;
  };
  try {
    const livekitBinary = await resolveLivekitServer({ log });
    mark('livekitBinary');
    // Chosen one after another, and re-drawn on a repeat, so no two parts get the same "free" port.
    const taken = new Set<string>();
    const pick = async (
      requestedPort: number | undefined,
      purpose: string,
      protocol: 'tcp' | 'udp' = 'tcp',
      host?: string,
    ): Promise<number> => {
      for (;;) {
        const port = await choosePort(requestedPort, purpose, protocol, host);
        if (requestedPort || !taken.has(`${protocol}/${port}`)) {
          taken.add(`${protocol}/${port}`);
          return port;
        }
      }
    };
    const ports = {
      postgres: await pick(requested.postgres, 'postgres'),
      postgrest: await pick(requested.postgrest, 'postgrest'),
      postgrestAdmin: await pick(requested.postgrestAdmin, 'postgrest admin'),
      auth: await pick(requested.auth, 'auth server'),
      livekit: await pick(requested.livekit, 'livekit-server'),
      livekitRtcTcp: await pick(requested.livekitRtcTcp, 'livekit-server ICE/TCP', 'tcp', '0.0.0.0'),
      livekitRtcUdp: await pick(requested.livekitRtcUdp, 'livekit-server ICE/UDP', 'udp'),
      gateway: await pick(requested.gateway, 'gateway'),
      control: await pick(requested.control, 'devstack control'),
    };
    const passwords = {
      authenticator: randomBytes(16).toString('hex'),
      authAdmin: randomBytes(16).toString('hex'),
    };

    const livekitStarting = startLivekit({
      binary: livekitBinary,
      port: ports.livekit,
      tcpPort: ports.livekitRtcTcp,
      udpPort: ports.livekitRtcUdp,
      ...livekitKeys,
      webhookUrls: options.livekitWebhookUrls,
      logFile: path.join(logDir, 'livekit-server.log'),
    });
    // Registered at once so a failure elsewhere still stops it.
    cleanups.push(async () => (await livekitStarting.catch(() => undefined))?.stop());

    const postgres = await startPostgres({
      dataDir: path.join(dir, 'postgres'),
      port: ports.postgres,
      logFile: path.join(logDir, 'postgres.log'),
      ephemeral: options.disposableData ?? ownsDir,
    });
    mark('postgres');
    cleanups.push(() => postgres.stop());
    const databaseUrl = postgres.url('postgres');
    await withClient(databaseUrl, (client) => bootstrapSupabaseRoles(client, passwords));
    mark('roles');
    const roleUrl = (role: string, password: string) =>
      `postgresql://${role}:${password}@127.0.0.1:${ports.postgres}/postgres`;

    const auth = await startStackAuthServer({
      databaseUrl: roleUrl('supabase_auth_admin', passwords.authAdmin),
      jwtSecret,
      port: ports.auth,
      publicUrl: `http://127.0.0.1:${ports.gateway}`,
      logFile: path.join(logDir, 'auth.log'),
    });
    mark('auth');
    cleanups.push(() => auth.stop());

    await applyMigrations(databaseUrl).catch((error: unknown) => {
      throw new DevstackError(error instanceof Error ? error.message : String(error), { cause: error });
    });

    const postgrestOptions = {
      databaseUrl: roleUrl('authenticator', passwords.authenticator),
      jwtSecret,
      port: ports.postgrest,
      adminPort: ports.postgrestAdmin,
      workDir: dir,
      logFile: path.join(logDir, 'postgrest.log'),
    };
    mark('migrations');
    let postgrest = await startPostgrest(postgrestOptions);
    mark('postgrest');
    cleanups.push(() => postgrest.stop());

    const [anonKey, serviceRoleKey] = await Promise.all([
      signApiKey(jwtSecret, 'anon'),
      signApiKey(jwtSecret, 'service_role'),
    ]);
    const gateway = await startGateway({
      port: ports.gateway,
      authUrl: auth.url,
      restUrl: postgrest.url,
      apiKeys: [anonKey, serviceRoleKey],
    });
    cleanups.push(() => gateway.stop());

    const livekit = await livekitStarting;
    mark('livekit');

    const postgresControl = {
      stop: () => postgres.stop(),
      start: async () => {
        await postgres.start();
        // PostgREST retries a lost database with back-off up to 32 s; restart it if it does not come back at once,
        // so "database started" means the REST API works again.
        const ready = await waitForHealth({
          what: 'PostgREST',
          check: () => httpOk(`http://127.0.0.1:${ports.postgrestAdmin}/ready`),
          timeoutMs: 3_000,
        }).then(
          () => true,
          () => false,
        );
        if (!ready) {
          await postgrest.stop();
          postgrest = await startPostgrest(postgrestOptions);
        }
      },
    };
    const control = await startControlServer(ports.control, {
      stopPostgres: postgresControl.stop,
      startPostgres: postgresControl.start,
    });
    cleanups.push(() => control.stop());

    const info: StackInfo = {
      supabaseUrl: gateway.url,
      anonKey,
      serviceRoleKey,
      jwtSecret,
      databaseUrl,
      livekit: { url: livekit.url, ...livekitKeys },
      controlUrl: control.url,
      logDir,
    };

    let stopping: Promise<void> | undefined;
    const stop = (stopOptions: { keepLogs?: boolean } = {}) => {
      stopping ??= (async () => {
        removeSignalHandlers();
        await stopAll(stopOptions.keepLogs);
      })();
      return stopping;
    };
    const removeSignalHandlers =
      options.handleSignals === false ? () => undefined : onTerminationSignal(stop);

    mark('total');
    return {
      info,
      startupTimings,
      stop,
      postgres: postgresControl,
      pids: () =>
        [livekit.process, postgrest.process]
          .filter((p) => p.running)
          .map((p) => p.pid)
          .concat(postgres.pid === undefined ? [] : [postgres.pid]),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Stops the stack on SIGINT/SIGTERM, then exits with the conventional code. Returns the un-installer. */
function onTerminationSignal(stop: () => Promise<void>): () => void {
  const handler = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    void stop().finally(() => process.exit(code));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
