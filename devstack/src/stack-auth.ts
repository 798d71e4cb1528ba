import { pino } from 'pino';
import { startAuthServer } from './auth/index.ts';

/**
 * The one place the stack meets the auth server (devstack/src/auth/, GoTrue-wire-compatible; GoTrue itself
 * cannot be installed here). It runs in-process and creates the `auth` schema at start, as GoTrue migrates on
 * start, so it must start after the roles exist and before supabase/migrations (which reference auth.users).
 */
export interface StackAuthOptions {
  /** Login role `supabase_auth_admin` (owns schema auth, search_path auth). */
  databaseUrl: string;
  jwtSecret: string;
  port: number;
  /** The gateway URL clients use; tokens carry `iss = <publicUrl>/auth/v1` as on Supabase. */
  publicUrl: string;
  logFile: string;
}

export interface StackAuthServer {
  /** Root URL; the gateway maps /auth/v1/* onto it. */
  url: string;
  stop(): Promise<void>;
}

export async function startStackAuthServer(options: StackAuthOptions): Promise<StackAuthServer> {
  // Its own log file like every other part of the stack (createLogger writes to stdout). Same redaction rules.
  // Synchronous and never closed: the auth server's pool may still log a lost connection after stop() (Postgres
  // stops after it), and a closed pino destination would throw there. One fd per stack start.
  const destination = pino.destination({ dest: options.logFile, sync: true, mkdir: true });
  const logger = pino(
    {
      name: 'auth',
      level: 'info',
      base: { service: 'auth' },
      redact: { paths: ['authorization', 'password', 'token', 'sensitive', '*.sensitive'], remove: true },
    },
    destination,
  );
  const server = await startAuthServer({
    databaseUrl: options.databaseUrl,
    jwtSecret: options.jwtSecret,
    host: '127.0.0.1',
    port: options.port,
    publicUrl: options.publicUrl,
    logger,
  });
  return {
    url: server.url,
    stop: () => server.stop(),
  };
}
