import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { agentEnv, loadAgentConfig } from '@voice/core/config/agent';
import { loadTokenServiceConfig, tokenServiceEnv } from '@voice/core/config/token-service';
import { envVariableNames } from '@voice/core/env';
import { migrateAuthSchema } from '@voice/devstack/auth/index';
import { devstackEnv } from '@voice/devstack/config';
import { prepareSupabaseDatabase } from '@voice/devstack/database/bootstrap';
import { listMigrations } from '@voice/devstack/database/migrations';
import { findFreeTcpPort } from '@voice/devstack/ports';
import { cachedBinaryPath, resolveLivekitServer } from '@voice/devstack/processes/livekit-binary';
import { processIsAlive, spawnManaged } from '@voice/devstack/processes/managed-process';
import { withClient } from '@voice/devstack/processes/postgres';
import { httpOk, waitForHealth } from '@voice/devstack/processes/wait-for-health';
import { tokenServiceEnvFor } from '@voice/devstack/services/token-service';
import { testStack } from '@voice/devstack/testing/stack';
import { buildTokenService } from '@voice/token-service/app';
import { startMetricsServer } from '@voice/token-service/metrics';
import { contentSecurityPolicy, pageConnectSources } from '@voice/web-client/serve';
import { parse as parseToml } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { REPO_ROOT } from '../src/livekit-cluster.ts';

// The deployment files against the code: docker-compose.yml (parsed by the real `docker compose config`, per
// profile), fly.toml, the Dockerfile and .env.example must give each service every variable it reads and nothing
// it does not know, and must start the services with the same commands the tests run (root package.json scripts).

const stack = testStack();
const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
const rootScripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
const tokenVars = envVariableNames(tokenServiceEnv);
const agentVars = envVariableNames(agentEnv);
const codeVars = new Set([...tokenVars, ...agentVars, ...envVariableNames(devstackEnv)]);
const work = mkdtempSync(join(tmpdir(), 'selfhosting-deploy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Variables a schema cannot do without (no default, not optional). */
function requiredVars(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name)
    .sort();
}

/** NAME=value lines of .env.example, in order. */
function envExample(): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of read('.env.example').split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) vars.set(match[1] as string, match[2] as string);
  }
  return vars;
}

/** Values an operator would fill in (well-formed, obviously fake). */
const TEST_SECRETS: Record<string, string> = {
  SUPABASE_SERVICE_ROLE_KEY:
    'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.test-service-role-signature',
  SUPABASE_ANON_KEY: 'eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.test-anon-signature',
  SUPABASE_JWT_SECRET: 'test-jwt-secret-with-at-least-32-characters',
  LIVEKIT_API_KEY: 'APItestkey',
  LIVEKIT_API_SECRET: 'test-livekit-secret-with-32-plus-characters',
  DEEPGRAM_API_KEY: 'test-deepgram-key',
  ANTHROPIC_API_KEY: 'test-anthropic-key',
  OPENAI_API_KEY: 'test-openai-key',
  REDIS_PASSWORD: 'test-redis-password',
  POSTGRES_PASSWORD: 'test-postgres-password',
  SUPABASE_DB_URL: 'postgresql://postgres:test@db.example.supabase.co:5432/postgres',
};

describe('.env.example', () => {
  const vars = envExample();

  it('lists every variable the token service and the agent read', () => {
    expect(tokenVars.filter((v) => !vars.has(v))).toEqual([]);
    expect(agentVars.filter((v) => !vars.has(v))).toEqual([]);
  });

  it('sets nothing unknown: each variable is read by a service, the devstack, or the deployment files', () => {
    const compose = read('docker-compose.yml');
    const fly = read('fly.toml');
    const unknown = [...vars.keys()].filter(
      (v) => !codeVars.has(v) && !compose.includes(`\${${v}`) && !fly.includes(v),
    );
    expect(unknown).toEqual([]);
  });
});

/** A new database on the test stack's Postgres, as a new Supabase project is before our migrations. */
const freshDatabases: string[] = [];
async function freshProject(): Promise<string> {
  const name = `selfhosting_${randomUUID().replaceAll('-', '')}`;
  await withClient(stack.databaseUrl, (admin) => admin.query(`create database ${name}`));
  freshDatabases.push(name);
  const url = new URL(stack.databaseUrl);
  url.pathname = `/${name}`;
  await withClient(url.toString(), async (client) => {
    await prepareSupabaseDatabase(client);
    // The auth server creates its schema on start, as its own role (as GoTrue does).
    await client.query('set role supabase_auth_admin; set search_path = auth');
    await migrateAuthSchema(client);
  });
  return url.toString();
}
afterAll(async () => {
  await withClient(stack.databaseUrl, async (admin) => {
    for (const name of freshDatabases) await admin.query(`drop database if exists ${name} with (force)`);
  });
});

/** `docker compose` (plugin), else `docker-compose` on PATH, else one built into the voicecall cache. */
function findCompose(): string[] | undefined {
  const candidates = [
    ['docker', 'compose'],
    ['docker-compose'],
    // the voicecall cache: <cache>/bin/livekit-server-v… → <cache>/compose-bin/docker-compose
    [join(dirname(dirname(cachedBinaryPath())), 'compose-bin', 'docker-compose')],
  ];
  return candidates.find((c) => spawnSync(c[0] as string, [...c.slice(1), 'version']).status === 0);
}
const compose = findCompose();

interface ComposeService {
  command?: string[];
  volumes?: Array<{ source?: string; target?: string; read_only?: boolean }>;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
  network_mode?: string;
  image?: string;
  profiles?: string[];
  build?: { target?: string };
}

function composeConfig(profile: string): { services: Record<string, ComposeService> } {
  // The project directory holds the .env (what an operator writes from .env.example); the compose file is ours.
  const project = join(work, profile);
  execFileSync('mkdir', ['-p', project]);
  const env = [...envExample()].map(([name, value]) => `${name}=${TEST_SECRETS[name] ?? value}`);
  writeFileSync(join(project, '.env'), `${env.join('\n')}\n`);
  const [command, ...args] = compose as string[];
  const output = execFileSync(
    command as string,
    [
      ...args,
      '--project-directory',
      project,
      '-f',
      join(REPO_ROOT, 'docker-compose.yml'),
      '--profile',
      profile,
      'config',
      '--format',
      'json',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(output);
}

describe.skipIf(!compose)(
  `docker-compose.yml (docker compose config)${compose ? '' : ' — SKIPPED: no docker compose client on this machine'}`,
  () => {
    const base = ['agent', 'livekit', 'redis', 'token-service', 'web-client'];
    const profiles = {
      'supabase-local': [...base, 'auth', 'db', 'gateway', 'migrate-local', 'rest'],
      'supabase-cloud': [...base, 'migrate-cloud'],
    };

    for (const [profile, expected] of Object.entries(profiles)) {
      describe(`profile ${profile}`, () => {
        const config = composeConfig(profile);
        const services = config.services;

        it('parses, with exactly the services of the profile', () => {
          expect(Object.keys(services).sort()).toEqual(expected.sort());
        });

        it('gives the token service and the agent a complete, valid environment (their own schemas parse it)', () => {
          const token = services['token-service']?.environment ?? {};
          const agent = services.agent?.environment ?? {};
          expect(tokenVars.filter((v) => !(v in token))).toEqual([]);
          expect(agentVars.filter((v) => !(v in agent))).toEqual([]);
          const asEnv = (e: Record<string, string | null>) =>
            Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v ?? '']));
          expect(() => loadTokenServiceConfig(asEnv(token))).not.toThrow();
          expect(() => loadAgentConfig(asEnv(agent))).not.toThrow();
          // Deployment overrides: the token service listens where LiveKit's webhook goes; the agent joins locally.
          expect(loadTokenServiceConfig(asEnv(token)).port).toBe(8787);
          expect(loadAgentConfig(asEnv(agent)).livekit.url).toBe('ws://127.0.0.1:7880');
        });

        it('sets nothing the services do not read', () => {
          for (const name of ['token-service', 'agent']) {
            const unknown = Object.keys(services[name]?.environment ?? {}).filter(
              (v) => !codeVars.has(v) && !envExample().has(v),
            );
            expect(unknown, name).toEqual([]);
          }
        });

        it('runs the services with the root package.json scripts the tests use', () => {
          expect(services['token-service']?.command).toEqual(['start:token-service']);
          expect(services.agent?.command).toEqual(['start:agent']);
          for (const name of ['token-service', 'agent']) {
            const script = services[name]?.command?.[0] as string;
            expect(rootScripts[script], `${script} in package.json`).toBeDefined();
            expect(services[name]?.build?.target).toBe('app');
          }
        });

        it('feeds livekit-server only variables it reads, and the key pair the services use', async () => {
          const help = execFileSync(await resolveLivekitServer(), ['help-verbose'], { encoding: 'utf8' });
          const known = new Set([...help.matchAll(/\[\$([A-Z0-9_]+)\]/g)].map((m) => m[1]));
          const env = services.livekit?.environment ?? {};
          expect(Object.keys(env).filter((v) => !known.has(v))).toEqual([]);
          expect(env.LIVEKIT_KEYS).toBe(
            `${TEST_SECRETS.LIVEKIT_API_KEY}: ${TEST_SECRETS.LIVEKIT_API_SECRET}`,
          );
          expect(env.LIVEKIT_WEBHOOK_API_KEY).toBe(TEST_SECRETS.LIVEKIT_API_KEY);
          expect(services.livekit?.image).toBe('livekit/livekit-server:v1.13.5');
        });

        it('never hands the service role key (or other server secrets) to the web client', () => {
          const web = JSON.stringify(services['web-client']?.environment ?? {});
          for (const secret of ['SUPABASE_SERVICE_ROLE_KEY', 'SUPABASE_JWT_SECRET', 'LIVEKIT_API_SECRET']) {
            expect(web).not.toContain(TEST_SECRETS[secret]);
          }
          expect(services['web-client']?.environment?.WEB_SUPABASE_ANON_KEY).toBe(
            TEST_SECRETS.SUPABASE_ANON_KEY,
          );
        });

        it('waits for what each service needs (health checks and depends_on conditions)', () => {
          for (const name of ['livekit', 'redis', 'token-service', 'agent', 'web-client']) {
            expect(services[name]?.healthcheck?.test, `${name} healthcheck`).toBeDefined();
          }
          const tokenDeps = services['token-service']?.depends_on ?? {};
          expect(tokenDeps.livekit?.condition).toBe('service_healthy');
          expect(services.livekit?.depends_on?.redis?.condition).toBe('service_healthy');
          if (profile === 'supabase-local') {
            expect(tokenDeps.gateway?.condition).toBe('service_healthy');
            expect(tokenDeps['migrate-local']?.condition).toBe('service_completed_successfully');
            expect(services['migrate-local']?.depends_on?.auth?.condition).toBe('service_healthy');
            for (const name of ['db', 'auth', 'gateway']) {
              expect(services[name]?.healthcheck?.test, `${name} healthcheck`).toBeDefined();
            }
          } else {
            expect(tokenDeps['migrate-cloud']?.condition).toBe('service_completed_successfully');
          }
        });

        const migrate = services[profile === 'supabase-local' ? 'migrate-local' : 'migrate-cloud'];
        it.skipIf(spawnSync('psql', ['--version']).status !== 0)(
          'its migration job applies supabase/migrations to a fresh project once, with the CLI`s bookkeeping',
          async () => {
            // The job's own script (as compose resolved it), run with psql against a fresh database of the test
            // stack, prepared as a new Supabase project is (roles' grants, auth schema from the auth server).
            expect(migrate?.volumes?.[0]).toMatchObject({ target: '/migrations', read_only: true });
            expect(String(migrate?.volumes?.[0]?.source)).toMatch(/supabase\/migrations$/);
            const script = String(migrate?.command?.[0] ?? '')
              .replaceAll('$$', '$')
              .replaceAll('/migrations/', `${join(REPO_ROOT, 'supabase/migrations')}/`);
            const database = await freshProject();
            const run = () =>
              execFileSync('/bin/sh', ['-ec', script], {
                encoding: 'utf8',
                env: {
                  PATH: process.env.PATH,
                  MIGRATE_DATABASE_URL: database,
                  PGOPTIONS: '--client-min-messages=warning',
                },
              });
            const first = run();
            const versions = listMigrations().map((m) => m.version);
            expect(first.match(/^applying: /gm)).toHaveLength(versions.length);
            const second = run();
            expect(second.match(/^already applied: /gm)).toHaveLength(versions.length);
            await withClient(database, async (client) => {
              const recorded = await client.query(
                'select version from supabase_migrations.schema_migrations order by 1',
              );
              expect(recorded.rows.map((r) => r.version)).toEqual(versions);
              const fn = await client.query("select 1 from pg_proc where proname = 'claim_voice_session'");
              expect(fn.rowCount).toBe(1);
            });
          },
        );
      });
    }
  },
);

describe('the web client image (nginx)', () => {
  const csp = (env: Record<string, string>) =>
    execFileSync('sh', ['-c', '. ./web-client/nginx/csp.envsh; printf %s "$WEB_CSP"'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...env },
    }).toString();

  it('sends the Content-Security-Policy serve.ts sends, built from the same URLs', () => {
    const endpoints = {
      supabaseUrl: 'https://abcd.supabase.co',
      tokenServiceUrl: 'https://token.example.com',
      livekitUrl: 'wss://livekit.example.com',
    };
    expect(
      csp({
        WEB_SUPABASE_URL: `${endpoints.supabaseUrl}/`,
        WEB_TOKEN_SERVICE_URL: endpoints.tokenServiceUrl,
        WEB_LIVEKIT_URL: endpoints.livekitUrl,
      }),
    ).toBe(contentSecurityPolicy(pageConnectSources(endpoints)));
    expect(
      csp({ WEB_SUPABASE_URL: endpoints.supabaseUrl, WEB_TOKEN_SERVICE_URL: endpoints.tokenServiceUrl }),
    ).toBe(contentSecurityPolicy([]));
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toContain(
      'COPY --chmod=0755 web-client/nginx/csp.envsh /docker-entrypoint.d/15-web-csp.envsh',
    );
    expect(dockerfile).toContain(`add_header Content-Security-Policy "$\{WEB_CSP}" always;`);
  });
});

describe('fly.toml', () => {
  interface FlyCheck {
    processes?: string[];
    port?: number;
    path?: string;
    type?: string;
  }
  const fly = parseToml(read('fly.toml')) as unknown as {
    build: { dockerfile: string; 'build-target': string };
    processes: Record<string, string>;
    env: Record<string, string>;
    http_service: { processes: string[]; internal_port: number; checks: FlyCheck[] };
    checks: Record<string, FlyCheck>;
    metrics: Array<{ processes: string[]; port: number; path: string }>;
    vm: Array<{ processes: string[]; memory: string }>;
  };
  /** The names the guide tells operators to `fly secrets set` (in fly.toml's header). */
  const secrets = [...read('fly.toml').matchAll(/fly secrets set ([^\n]+)/g)].flatMap((m) =>
    [...(m[1] as string).matchAll(/([A-Z][A-Z0-9_]*)=/g)].map((s) => s[1] as string),
  );

  it('runs both process groups with the root package.json scripts, from the Dockerfile`s app target', () => {
    expect(fly.processes).toEqual({ token: 'start:token-service', agent: 'start:agent' });
    for (const script of Object.values(fly.processes)) expect(rootScripts[script]).toBeDefined();
    expect(fly.build).toMatchObject({ dockerfile: 'Dockerfile', 'build-target': 'app' });
  });

  it('provides every required variable (env or secrets) and sets only variables the services read', () => {
    expect(Object.keys(fly.env).filter((v) => !tokenVars.includes(v) && !agentVars.includes(v))).toEqual([]);
    expect(secrets.filter((v) => !tokenVars.includes(v) && !agentVars.includes(v))).toEqual([]);
    const provided = new Set([...Object.keys(fly.env), ...secrets]);
    expect(requiredVars(tokenServiceEnv).filter((v) => !provided.has(v))).toEqual([]);
    expect(requiredVars(agentEnv).filter((v) => !provided.has(v))).toEqual([]);
    // Secrets never sit in [env].
    for (const secret of secrets) expect(fly.env[secret]).toBeUndefined();
    // With the secrets set, each service's own loader accepts the environment Fly will give it.
    const env = { ...fly.env, ...Object.fromEntries(secrets.map((s) => [s, TEST_SECRETS[s] ?? 'x'])) };
    expect(() => loadTokenServiceConfig(env)).not.toThrow();
    expect(() => loadAgentConfig(env)).not.toThrow();
  });

  it('routes and checks the ports and paths the code serves', async () => {
    const env = { ...fly.env, ...TEST_SECRETS };
    const tokenConfig = loadTokenServiceConfig(env);
    const agentConfig = loadAgentConfig(env);
    expect(fly.http_service.processes).toEqual(['token']);
    expect(fly.http_service.internal_port).toBe(tokenConfig.port);
    expect(tokenConfig.host).toBe('0.0.0.0');
    expect(fly.checks.token_health).toMatchObject({ processes: ['token'], port: tokenConfig.port });
    expect(fly.checks.agent_health).toMatchObject({
      processes: ['agent'],
      port: agentConfig.http.healthPort,
      path: '/',
    });
    const tokenMetrics = fly.metrics.find((m) => m.processes.includes('token'));
    expect(tokenConfig.metricsPort).toBeDefined();
    expect(tokenMetrics).toMatchObject({ port: tokenConfig.metricsPort, path: '/metrics' });
    expect(tokenConfig.metricsPort).not.toBe(fly.http_service.internal_port);
    const agentMetrics = fly.metrics.find((m) => m.processes.includes('agent'));
    expect(agentMetrics).toMatchObject({ port: agentConfig.http.metricsPort, path: '/metrics' });
    expect(fly.vm.flatMap((v) => v.processes).sort()).toEqual(['agent', 'token']);

    // The token service's paths answer 200 from the real app (wired to the test stack's database).
    const app = await buildTokenService(
      loadTokenServiceConfig({
        ...env,
        SUPABASE_URL: stack.supabaseUrl,
        SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
        SUPABASE_JWT_SECRET: stack.jwtSecret,
        LOG_LEVEL: 'silent',
      }),
    );
    // Metrics are served on their own listener (TOKEN_METRICS_PORT), never on the public port.
    const metricsServer = await startMetricsServer(app.metrics.registry, { host: '127.0.0.1', port: 0 });
    try {
      const healthPaths = [...fly.http_service.checks.map((c) => c.path), fly.checks.token_health?.path];
      for (const path of healthPaths) {
        const response = await app.inject({ method: 'GET', url: path as string });
        expect(response.statusCode, path).toBe(200);
      }
      const metricsPath = tokenMetrics?.path as string;
      expect((await fetch(`http://127.0.0.1:${metricsServer.port}${metricsPath}`)).status).toBe(200);
      expect((await app.inject({ method: 'GET', url: metricsPath })).statusCode).toBe(404);
    } finally {
      await Promise.all([app.close(), metricsServer.close()]);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const stage = (name: string) => stages.find((s) => new RegExp(`^\\S+ AS ${name}\\b`).test(s)) ?? '';
  const app = stage('app');

  it('builds the services on Node 24 slim with production dependencies only, and runs them unprivileged', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(stage('deps')).toMatch(
      /npm ci --omit=dev --workspace core --workspace token-service --workspace agent/,
    );
    expect(app).toMatch(/^USER node$/m);
    // The last stage is the default image: the services, not the web client.
    expect(stages.at(-1)).toBe(app);
    for (const workspace of ['token-service', 'agent']) {
      const pkg = JSON.parse(read(`${workspace}/package.json`));
      expect(pkg.dependencies.tsx, `tsx is a production dependency of ${workspace}`).toBeDefined();
    }
  });

  it('starts through the root package.json scripts (ENTRYPOINT npm run + CMD script name)', () => {
    expect(app).toMatch(/^ENTRYPOINT \["npm", "run", "--silent"\]$/m);
    const cmd = JSON.parse((/^CMD (\[.*\])$/m.exec(app) as RegExpExecArray)[1] as string) as string[];
    expect(cmd).toEqual(['start:token-service']);
    // `exec`: npm's shell becomes tsx, so the SIGTERM npm passes on reaches the service (a plain `sh -c` dies
    // and leaves the service running without its signal: no drain, then a SIGKILL).
    expect(rootScripts['start:token-service']).toBe('exec tsx token-service/src/main.ts');
    expect(rootScripts['start:agent']).toBe('exec tsx agent/src/main.ts start');
    for (const script of ['start:token-service', 'start:agent']) {
      const entry = (rootScripts[script] as string).split(' ')[2] as string;
      expect(existsSync(join(REPO_ROOT, entry)), entry).toBe(true);
      // Every source directory the script needs is copied into the image.
      expect(app).toContain(`COPY ${entry.split('/')[0]}/src/`);
    }
  });

  it('exposes the ports the services listen on by default in the image', () => {
    const env = Object.fromEntries(
      [...app.matchAll(/^\s*(?:ENV )?([A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1], m[2]]),
    );
    const exposed = (/^EXPOSE (.+)$/m.exec(app)?.[1] ?? '').split(' ').map(Number);
    const config = loadAgentConfig({
      ...env,
      ...TEST_SECRETS,
      SUPABASE_URL: 'https://x.supabase.co',
      LIVEKIT_URL: 'wss://lk',
    });
    const token = loadTokenServiceConfig({
      ...env,
      ...TEST_SECRETS,
      SUPABASE_URL: 'https://x.supabase.co',
      LIVEKIT_URL: 'wss://lk',
    });
    expect(exposed.sort()).toEqual(
      [token.port, token.metricsPort, config.http.healthPort, config.http.metricsPort].sort(),
    );
    expect(token.host).toBe('0.0.0.0');
  });
});

/** Every descendant of a process (from /proc), deepest last. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/** SIGKILLs whichever of `pids` still run; returns those it had to kill. */
function killLeftovers(pids: number[]): number[] {
  return pids.filter((pid) => {
    if (!processIsAlive(pid)) return false;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return false;
    }
    return true;
  });
}

/** The image's HEALTHCHECK command, run here as the container would run it. */
function imageHealthcheck(env: Record<string, string>): number {
  const app = read('Dockerfile')
    .split(/^FROM /m)
    .at(-1) as string;
  const script = (/HEALTHCHECK[^\n]*\\\n\s*CMD node -e "(.*)"$/m.exec(app) as RegExpExecArray)[1] as string;
  return (
    spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, timeout: 10_000 })
      .status ?? -1
  );
}

describe('the start commands, for real (npm run <script>, as the image runs them)', () => {
  it('`npm run start:token-service` serves, passes the image health check, and exits cleanly on SIGTERM', async () => {
    const port = await findFreeTcpPort();
    const logFile = join(work, 'token-service.log');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...tokenServiceEnvFor(stack, port) };
    let tree: number[] = [];
    const service = spawnManaged({
      name: 'token-service',
      command: 'npm',
      args: ['run', '--silent', 'start:token-service'],
      logFile,
      env,
      cwd: REPO_ROOT,
    });
    try {
      await waitForHealth({
        what: 'npm run start:token-service',
        check: () => httpOk(`http://127.0.0.1:${port}/readyz`),
        process: service,
        logFile,
        timeoutMs: 60_000,
      });
      expect(
        imageHealthcheck({ PORT: String(port), AGENT_HEALTH_PORT: String(await findFreeTcpPort()) }),
      ).toBe(0);
    } finally {
      tree = descendants(service.pid);
      await service.stop(15_000);
    }
    const { code } = await service.exited;
    // npm passes SIGTERM on to the service (exec), which drains and exits 0; nothing is left running.
    expect(code).toBe(0);
    expect(readFileSync(logFile, 'utf8')).toContain('shutting down');
    expect(killLeftovers(tree)).toEqual([]);
    // Nothing answers any more: the health check now fails.
    expect(imageHealthcheck({ PORT: String(port), AGENT_HEALTH_PORT: String(await findFreeTcpPort()) })).toBe(
      1,
    );
  });

  it('`npm run start:agent` registers a worker whose health server passes the image health check', async () => {
    const healthPort = await findFreeTcpPort();
    const logFile = join(work, 'agent.log');
    let tree: number[] = [];
    const worker = spawnManaged({
      name: 'agent',
      command: 'npm',
      args: ['run', '--silent', 'start:agent'],
      logFile,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LOG_LEVEL: 'info',
        SUPABASE_URL: stack.supabaseUrl,
        SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
        LIVEKIT_URL: stack.livekit.url,
        LIVEKIT_API_KEY: stack.livekit.apiKey,
        LIVEKIT_API_SECRET: stack.livekit.apiSecret,
        AGENT_NAME: `selfhosting-start-${Date.now()}`,
        AGENT_HTTP_HOST: '127.0.0.1',
        AGENT_HEALTH_PORT: String(healthPort),
        AGENT_METRICS_PORT: '0',
        AGENT_IDLE_PROCESSES: '1',
        // Providers are only called during a job; none runs here.
        DEEPGRAM_API_KEY: 'unused',
        ANTHROPIC_API_KEY: 'unused',
        OPENAI_API_KEY: 'unused',
        ONNXRUNTIME_NODE_INSTALL: 'skip',
      },
      cwd: REPO_ROOT,
    });
    try {
      await waitForHealth({
        what: 'npm run start:agent',
        // Up as in production: registered, and its warm job process ready (a SIGTERM while that process is still
        // starting holds agents-js's shutdown for its 60 s initialise timeout).
        check: async () =>
          /registered worker[\s\S]*job process prewarmed|job process prewarmed[\s\S]*registered worker/.test(
            readFileSync(logFile, 'utf8'),
          ),
        process: worker,
        logFile,
        timeoutMs: 90_000,
        intervalMs: 250,
      });
      expect(await httpOk(`http://127.0.0.1:${healthPort}/`)).toBe(true);
      expect(
        imageHealthcheck({ PORT: String(await findFreeTcpPort()), AGENT_HEALTH_PORT: String(healthPort) }),
      ).toBe(0);
    } finally {
      tree = descendants(worker.pid);
      await worker.stop(45_000);
    }
    // SIGTERM reached the worker through npm (exec) and it stopped with everything it started.
    expect(killLeftovers(tree)).toEqual([]);
  });
});
