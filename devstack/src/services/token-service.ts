import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreeTcpPort } from '../ports.ts';
import { spawnManaged } from '../processes/managed-process.ts';
import { httpOk, waitForHealth } from '../processes/wait-for-health.ts';
import type { StackInfo } from '../stack-info.ts';
import type { StartedUpService, UpService } from './up-services.ts';

/**
 * Runs the token service as its own process on top of a local stack, the way production runs it
 * (`tsx token-service/src/main.ts`, config from the environment). `npm start` registers it in UP_SERVICES;
 * integration tests and the benchmarks use it to run the real process entry.
 */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = path.join(REPO_ROOT, 'token-service/src/main.ts');

export interface TokenServiceProcessOptions {
  /** Port to listen on; 0 or omitted → a free one. */
  port?: number;
  /** Web origins allowed by CORS (the web client's dev server). */
  corsOrigins?: string[];
  /** Extra environment (limits, TTLs, ...). */
  env?: Record<string, string>;
}

export interface TokenServiceProcess extends StartedUpService {
  url: string;
  pid: number;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function tokenServiceEnvFor(stack: StackInfo, port: number, options: TokenServiceProcessOptions = {}) {
  return {
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    SUPABASE_URL: stack.supabaseUrl,
    SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
    SUPABASE_JWT_SECRET: stack.jwtSecret,
    LIVEKIT_URL: stack.livekit.url,
    LIVEKIT_API_KEY: stack.livekit.apiKey,
    LIVEKIT_API_SECRET: stack.livekit.apiSecret,
    TOKEN_CORS_ORIGINS: (options.corsOrigins ?? []).join(','),
    ...options.env,
  };
}

export async function startTokenServiceProcess(
  stack: StackInfo,
  logDir: string,
  options: TokenServiceProcessOptions = {},
): Promise<TokenServiceProcess> {
  const port = options.port || (await findFreeTcpPort());
  const url = `http://127.0.0.1:${port}`;
  const logFile = path.join(logDir, 'token-service.log');
  const child = spawnManaged({
    name: 'token-service',
    command: process.execPath,
    args: ['--import', 'tsx', MAIN],
    logFile,
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...tokenServiceEnvFor(stack, port, options) },
  });
  await waitForHealth({
    what: 'token service',
    check: () => httpOk(`${url}/healthz`),
    process: child,
    logFile,
    timeoutMs: 30_000,
  });
  return {
    url,
    pid: child.pid,
    exited: child.exited,
    urls: { 'token endpoint': `${url}/v1/token`, 'livekit webhook': `${url}/v1/livekit/webhook` },
    stop: () => child.stop(12_000),
  };
}

/** The entry for devstack's UP_SERVICES (`npm start`). */
export const tokenServiceUpService: UpService = {
  name: 'token service',
  start: ({ stack, logDir }) =>
    startTokenServiceProcess(stack, logDir, {
      port: Number(process.env.TOKEN_SERVICE_PORT ?? 8787),
      corsOrigins: (process.env.TOKEN_CORS_ORIGINS ?? 'http://localhost:5173,http://127.0.0.1:5173').split(
        ',',
      ),
    }),
};
