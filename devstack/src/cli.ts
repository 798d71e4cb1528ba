#!/usr/bin/env -S npx tsx
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@voice/core';
import { loadDevstackConfig } from './config.ts';
import { ensureDemoAccount } from './demo-account.ts';
import { DevstackError } from './errors.ts';
import { DEV_JWT_SECRET } from './keys.ts';
import { LIVEKIT_SERVER_VERSION, resolveLivekitServer } from './processes/livekit-binary.ts';
import { type StartedUpService, UP_SERVICES } from './services/up-services.ts';
import { type RunningStack, startStack } from './stack.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const USAGE = `Usage: tsx devstack/src/cli.ts <command>

  up               Start the local stack (PostgreSQL, auth, PostgREST behind a Supabase-style gateway,
                   livekit-server) on 127.0.0.1 and print its URLs and dev keys. Ctrl-C stops everything.
  ensure-livekit   Find livekit-server v${LIVEKIT_SERVER_VERSION} or build it once with Go; print its path.

Settings: DEVSTACK_*, LIVEKIT_SERVER_BIN, VOICECALL_CACHE_DIR (see .env.example).`;

const print = (line = '') => process.stdout.write(`${line}\n`);

async function up(): Promise<void> {
  const config = loadDevstackConfig();
  const dir = config.DEVSTACK_DIR === 'temp' ? undefined : path.resolve(REPO_ROOT, config.DEVSTACK_DIR);
  const started = Date.now();
  print('devstack: starting PostgreSQL, auth, PostgREST, gateway, livekit-server ...');
  const stack: RunningStack = await startStack({
    dir,
    jwtSecret: config.DEVSTACK_JWT_SECRET ?? DEV_JWT_SECRET,
    ports: {
      gateway: config.DEVSTACK_GATEWAY_PORT,
      postgres: config.DEVSTACK_POSTGRES_PORT,
      livekit: config.DEVSTACK_LIVEKIT_PORT,
      livekitRtcTcp: config.DEVSTACK_LIVEKIT_RTC_TCP_PORT,
      livekitRtcUdp: config.DEVSTACK_LIVEKIT_RTC_UDP_PORT,
    },
    livekitWebhookUrls: UP_SERVICES.flatMap((service) => service.livekitWebhookUrl ?? []),
    // The CLI stops services first, then the stack (below).
    handleSignals: false,
  });

  const services: { name: string; started: StartedUpService }[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    print('\ndevstack: stopping ...');
    for (const service of services.reverse()) await service.started.stop().catch(() => undefined);
    await stack.stop();
    print('devstack: stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(130));
  process.on('SIGTERM', () => void shutdown(143));

  try {
    for (const service of UP_SERVICES) {
      services.push({
        name: service.name,
        started: await service.start({ stack: stack.info, logDir: stack.info.logDir }),
      });
    }
  } catch (error) {
    await shutdown(1);
    throw error;
  }

  const { info } = stack;
  const demo = await ensureDemoAccount(info);
  print(`devstack: ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  print(`  Supabase URL      ${info.supabaseUrl}   (/auth/v1, /rest/v1)`);
  print(`  anon key          ${info.anonKey}`);
  print(`  service role key  ${info.serviceRoleKey}`);
  print(`  JWT secret        ${info.jwtSecret}`);
  print(`  database          ${info.databaseUrl}`);
  print(`  LiveKit URL       ${info.livekit.url}`);
  print(`  LiveKit API key   ${info.livekit.apiKey}  secret ${info.livekit.apiSecret}`);
  print(`  control           ${info.controlUrl}  (POST /postgres/stop | /postgres/start)`);
  print(`  logs              ${info.logDir}`);
  for (const service of services) {
    print(`  ${service.name}`);
    for (const [label, url] of Object.entries(service.started.urls)) print(`    ${label.padEnd(16)}${url}`);
  }
  print(
    `  demo account      ${demo.email} / ${demo.password}  (Studio tier: sign in on the web client and call)`,
  );
  print('\nDev keys only: loopback, never for production. Ctrl-C stops everything.');
  // Keep running until a signal arrives.
  await new Promise(() => undefined);
}

async function main(): Promise<void> {
  const command = process.argv[2];
  if (command === 'up') return await up();
  if (command === 'ensure-livekit') {
    print(await resolveLivekitServer());
    return;
  }
  print(USAGE);
  process.exitCode = command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main().catch((error: unknown) => {
  // What the person running it can act on, without a stack trace.
  if (error instanceof DevstackError || error instanceof ConfigError)
    console.error(`devstack: ${error.message}`);
  else console.error('devstack: unexpected failure:', error);
  process.exit(1);
});
