import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreeTcpPort, findFreeUdpPort } from '@voice/devstack/ports';
import { resolveLivekitServer } from '@voice/devstack/processes/livekit-binary';
import { type ManagedProcess, spawnManaged } from '@voice/devstack/processes/managed-process';
import { httpOk, logTail, waitForHealth } from '@voice/devstack/processes/wait-for-health';

/**
 * The real livekit-server started with one of the repository's config files (livekit.yaml, livekit.dev.yaml) and
 * the environment overrides a deployment would use, on free ports (several engineers and test runs share the
 * machine). Used by the self-hosting tests: config validity, and several nodes sharing one Redis.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LivekitNode {
  /** ws:// URL clients use. */
  url: string;
  httpUrl: string;
  prometheusUrl: string;
  ports: { signal: number; tcp: number; udp: number; prometheus: number };
  process: ManagedProcess;
  logFile: string;
  log(): string;
  stop(): Promise<void>;
}

export interface LivekitNodeOptions {
  /** Path of the config file, relative to the repository root (or absolute). */
  configFile: string;
  /** Environment livekit-server reads (LIVEKIT_KEYS, REDIS_HOST, LIVEKIT_TURN_*, ...); ports are added here. */
  env: Record<string, string>;
  logFile: string;
  /** Skip waiting for health (for start-up failure tests). */
  waitUntilHealthy?: boolean;
  /** Add NODE_IP=127.0.0.1 and LIVEKIT_RTC_USE_EXTERNAL_IP=false (default true: this machine has no STUN). */
  loopback?: boolean;
}

/** Loopback overrides: no STUN (offline machines), advertise 127.0.0.1, free ports for everything. */
export async function startLivekitNode(options: LivekitNodeOptions): Promise<LivekitNode> {
  const binary = await resolveLivekitServer();
  const ports = {
    signal: await findFreeTcpPort(),
    tcp: await findFreeTcpPort('0.0.0.0'),
    udp: await findFreeUdpPort(),
    prometheus: await findFreeTcpPort(),
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(options.loopback === false ? {} : { NODE_IP: '127.0.0.1', LIVEKIT_RTC_USE_EXTERNAL_IP: 'false' }),
    LIVEKIT_PORT: String(ports.signal),
    LIVEKIT_RTC_TCP_PORT: String(ports.tcp),
    UDP_PORT: String(ports.udp),
    LIVEKIT_PROMETHEUS_PORT: String(ports.prometheus),
    ...options.env,
  };
  const process_ = spawnManaged({
    name: 'livekit-server',
    command: binary,
    args: ['--config', resolve(REPO_ROOT, options.configFile), '--bind', '127.0.0.1'],
    logFile: options.logFile,
    env,
    cwd: REPO_ROOT,
  });
  const httpUrl = `http://127.0.0.1:${ports.signal}`;
  const node: LivekitNode = {
    url: `ws://127.0.0.1:${ports.signal}`,
    httpUrl,
    prometheusUrl: `http://127.0.0.1:${ports.prometheus}/metrics`,
    ports,
    process: process_,
    logFile: options.logFile,
    log: () => logTail(options.logFile, 400),
    stop: () => process_.stop(10_000),
  };
  if (options.waitUntilHealthy === false) return node;
  await waitForHealth({
    what: `livekit-server --config ${options.configFile}`,
    check: () => httpOk(`${httpUrl}/`),
    process: process_,
    logFile: options.logFile,
    timeoutMs: 30_000,
  }).catch(async (error: unknown) => {
    await process_.stop();
    throw error;
  });
  return node;
}

export interface RunningRedis {
  /** host:port, as REDIS_HOST takes it. */
  address: string;
  password: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Debian's redis-server on a free loopback port, with a password, no persistence, data in `dir`. */
export async function startRedis(dir: string, password: string): Promise<RunningRedis> {
  const port = await findFreeTcpPort();
  const logFile = join(dir, 'redis.log');
  const process_ = spawnManaged({
    name: 'redis-server',
    command: 'redis-server',
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      password,
    ],
    logFile,
  });
  await waitForHealth({
    what: 'redis-server',
    check: async () => /Ready to accept connections/.test(logTail(logFile, 50)),
    process: process_,
    logFile,
    timeoutMs: 15_000,
  });
  return { address: `127.0.0.1:${port}`, password, process: process_, stop: () => process_.stop() };
}

/** A self-signed certificate for a TURN domain (production uses a real one, e.g. from Let's Encrypt). */
export interface TurnCertificate {
  domain: string;
  certFile: string;
  keyFile: string;
}

export function writeTurnCertificate(dir: string, domain: string): TurnCertificate {
  const certificate = { domain, certFile: join(dir, 'fullchain.pem'), keyFile: join(dir, 'privkey.pem') };
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${domain}`,
    '-keyout',
    certificate.keyFile,
    '-out',
    certificate.certFile,
  ]);
  return certificate;
}

/** Free ports for TURN over TLS (TCP, all interfaces, as livekit binds it) and over UDP. */
export async function freeTurnPorts(): Promise<{ tls: number; udp: number }> {
  return { tls: await findFreeTcpPort('0.0.0.0'), udp: await findFreeUdpPort() };
}

/** The environment livekit.yaml's header asks a production deployment for: keys, webhook key, Redis, TURN. */
export function productionNodeEnv(settings: {
  apiKey: string;
  apiSecret: string;
  redis: RunningRedis;
  turn: TurnCertificate;
  turnPorts: { tls: number; udp: number };
}): Record<string, string> {
  return {
    LIVEKIT_KEYS: `${settings.apiKey}: ${settings.apiSecret}`,
    LIVEKIT_WEBHOOK_API_KEY: settings.apiKey,
    REDIS_HOST: settings.redis.address,
    REDIS_PASSWORD: settings.redis.password,
    LIVEKIT_TURN_DOMAIN: settings.turn.domain,
    LIVEKIT_TURN_CERT: settings.turn.certFile,
    LIVEKIT_TURN_KEY: settings.turn.keyFile,
    LIVEKIT_TURN_TLS_PORT: String(settings.turnPorts.tls),
    LIVEKIT_TURN_UDP_PORT: String(settings.turnPorts.udp),
  };
}
