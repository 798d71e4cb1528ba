import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRuntimeConfig, type RuntimeConfig } from './src/config/runtime-config.ts';

/**
 * Serves the built web client and its runtime `/config.json` (for `npm start` and the browser tests).
 * The bundle holds no URLs or keys; this server hands them out per deployment. It refuses a service role key.
 */

const webClientDir = dirname(fileURLToPath(import.meta.url));
export const webClientDistDir = join(webClientDir, 'dist');
const STAMP = '.build-stamp';
/** Lock and temporary build dirs live in the (ignored) node_modules cache, on the same disk as dist for rename. */
const cacheDir = join(webClientDir, '..', 'node_modules', '.cache', 'voice-web-client');
const SOURCES = ['src', 'index.html', 'vite.config.ts', 'package.json', 'serve.ts'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

/** True when dist is missing or older than any source file. */
export async function webClientBuildIsStale(): Promise<boolean> {
  const stamp = await stat(join(webClientDistDir, STAMP)).catch(() => undefined);
  if (!stamp) return true;
  let newest = 0;
  for (const source of SOURCES) newest = Math.max(newest, await newestMtime(join(webClientDir, source)));
  return newest > stamp.mtimeMs;
}

function runViteBuild(outDir: string): Promise<void> {
  const vitePackage = createRequire(import.meta.url).resolve('vite/package.json');
  const viteBin = join(dirname(vitePackage), 'bin', 'vite.js');
  return new Promise((resolvePromise, reject) => {
    // A child process keeps Vite's bundler out of the caller (a vitest worker, the devstack CLI).
    const child = spawn(
      process.execPath,
      [viteBin, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      {
        cwd: webClientDir,
        // A clean environment: a test runner's variables (vitest's NODE_ENV=test and friends) would otherwise give
        // React's development build.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise()
        : reject(new Error(`vite build failed (${code}):\n${output.slice(-4000)}`)),
    );
  });
}

async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(cacheDir, { recursive: true });
  const lock = join(cacheDir, 'build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      // Another process (a parallel test run, npm start) is building; a lock older than 3 min is stale.
      const info = await stat(lock).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > 180_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another web-client build');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Builds the web client when dist is missing or stale ('if-stale', the default), always, or never. Builds into a
 * temporary directory and swaps it in, so a server already serving the old build never sees a half-written one.
 */
export async function ensureWebClientBuilt(
  mode: 'if-stale' | 'always' | 'never' = 'if-stale',
): Promise<string> {
  if (mode === 'never') return webClientDistDir;
  if (mode === 'if-stale' && !(await webClientBuildIsStale())) return webClientDistDir;
  await withBuildLock(async () => {
    if (mode === 'if-stale' && !(await webClientBuildIsStale())) return;
    const tmp = join(cacheDir, `dist-${process.pid}-${Date.now()}`);
    try {
      await runViteBuild(tmp);
      await writeFile(join(tmp, STAMP), new Date().toISOString());
      const old = join(cacheDir, `old-${process.pid}-${Date.now()}`);
      await rename(webClientDistDir, old).catch(() => undefined);
      await rename(tmp, webClientDistDir);
      await rm(old, { recursive: true, force: true });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
  return webClientDistDir;
}

export interface WebClientServerOptions {
  /** The runtime config, or a getter (read per request) when a value is only known after the server is up. */
  config: RuntimeConfig | (() => RuntimeConfig);
  /**
   * The LiveKit URL the token service hands out (its LIVEKIT_URL), for the Content-Security-Policy: the page may
   * connect only to Supabase, the token service and this. Unset → any ws(s)/http(s) origin may be reached (the
   * rest of the policy holds).
   */
  livekitUrl?: string;
  /** 0 (default) = any free port. */
  port?: number;
  host?: string;
  build?: 'if-stale' | 'always' | 'never';
}

export interface WebClientServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

/**
 * The page's Content-Security-Policy. Scripts and styles only from this origin (the Vite build has no inline script
 * or style element; React's style props go through the CSSOM, which CSP allows), no plugins, no framing, no <base>
 * tricks; network access only to the endpoints the page uses. A `ws(s)://` source also covers the same host over
 * http(s) (CSP level 3), which livekit-client uses to explain a failed connection. The Dockerfile's nginx sends
 * the same policy (a unit test keeps the two equal).
 */
export function contentSecurityPolicy(connectTo: readonly string[]): string {
  const origins = connectTo.length > 0 ? connectTo : ['ws:', 'wss:', 'http:', 'https:'];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' blob:",
    `connect-src 'self' ${origins.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** scheme://host[:port] of a URL, and its WebSocket twin for an http(s) one (supabase-js realtime). */
function connectSources(url: string): string[] {
  const { protocol, host } = new URL(url);
  const twin = { 'http:': 'ws:', 'https:': 'wss:' }[protocol];
  return [`${protocol}//${host}`, ...(twin ? [`${twin}//${host}`] : [])];
}

/** Where the page may connect: Supabase, the token service, LiveKit (none known → any, see contentSecurityPolicy). */
export function pageConnectSources(endpoints: {
  supabaseUrl: string;
  tokenServiceUrl: string;
  livekitUrl?: string | undefined;
}): string[] {
  if (!endpoints.livekitUrl) return [];
  return [
    ...new Set([
      ...connectSources(endpoints.supabaseUrl),
      ...connectSources(endpoints.tokenServiceUrl),
      ...connectSources(endpoints.livekitUrl),
    ]),
  ];
}

function securityHeaders(res: ServerResponse, csp: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  // The page needs the microphone (and nothing else of the kind).
  res.setHeader('Permissions-Policy', 'microphone=(self), camera=(), geolocation=()');
  res.setHeader('Content-Security-Policy', csp);
}

export async function startWebClientServer(options: WebClientServerOptions): Promise<WebClientServer> {
  // Validates the config (and refuses a service role key) before anything is served, and again per change.
  const readConfig =
    typeof options.config === 'function' ? options.config : () => options.config as RuntimeConfig;
  parseRuntimeConfig(readConfig());
  const root = await ensureWebClientBuilt(options.build ?? 'if-stale');

  function csp(): string {
    const config = readConfig();
    return contentSecurityPolicy(pageConnectSources({ ...config, livekitUrl: options.livekitUrl }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    securityHeaders(res, csp());
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      // A malformed percent-encoding (e.g. `/%E0%A4%A`) is the client's mistake, not a server error.
      return send(res, 400, 'bad request: malformed URL encoding');
    }
    if (pathname === '/config.json') {
      return send(res, 200, JSON.stringify(parseRuntimeConfig(readConfig())), CONTENT_TYPES['.json']);
    }
    if (pathname === '/healthz') return send(res, 200, 'ok');

    const candidate = normalize(join(root, pathname));
    if (candidate !== root && !candidate.startsWith(root + sep)) return send(res, 400, 'bad path');
    let file = candidate;
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => undefined);
    }
    if (!info?.isFile() || pathname.split('/').some((part) => part.startsWith('.') && part.length > 1)) {
      // Unknown paths without an extension are app routes: serve the app. Missing assets are 404s.
      if (extname(pathname)) return send(res, 404, 'not found');
      file = join(root, 'index.html');
      info = await stat(file).catch(() => undefined);
      if (!info) return send(res, 503, 'web client is not built');
    }
    const hashed = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': info.size,
      // Vite's hashed assets never change; index.html must always be fresh to pick up a new build.
      'Cache-Control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolvePromise());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.closeAllConnections();
        server.close(() => resolvePromise());
      }),
  };
}

// `tsx web-client/serve.ts` with WEB_* env: serve on its own (handy for a quick look).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const server = await startWebClientServer({
    config: {
      supabaseUrl: env.WEB_SUPABASE_URL ?? '',
      supabaseAnonKey: env.WEB_SUPABASE_ANON_KEY ?? '',
      tokenServiceUrl: env.WEB_TOKEN_SERVICE_URL ?? '',
      simulatedProviders: env.WEB_SIMULATED_PROVIDERS === 'true',
    },
    ...(env.WEB_LIVEKIT_URL ? { livekitUrl: env.WEB_LIVEKIT_URL } : {}),
    port: Number(env.WEB_PORT ?? 5173),
    host: env.WEB_HOST ?? '127.0.0.1',
  });
  process.stdout.write(`web client on ${server.url}\n`);
}
