import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../cache-dir.ts';
import { DevstackError } from '../errors.ts';

export const LIVEKIT_SERVER_VERSION = '1.13.5';
const MODULE = 'github.com/livekit/livekit-server/cmd/server';

export function cachedBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'bin', `livekit-server-v${LIVEKIT_SERVER_VERSION}`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, command))) return path.join(dir, command);
  }
  return undefined;
}

function versionOf(binary: string): string | undefined {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return /version\s+(\S+)/.exec(`${result.stdout}${result.stderr}`)?.[1];
}

/**
 * Finds livekit-server v1.13.5: $LIVEKIT_SERVER_BIN, else the cache, else `livekit-server` on PATH if it is that
 * version, else builds it once with `go install` into the cache. Without Go it stops with what to do.
 */
export async function resolveLivekitServer(
  options: {
    env?: NodeJS.ProcessEnv;
    log?: (line: string) => void;
    /** Where to look for Go when it is not on PATH (its default install location). */
    goCandidates?: readonly string[];
  } = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.error(line));
  if (env.LIVEKIT_SERVER_BIN) {
    if (!isExecutable(env.LIVEKIT_SERVER_BIN)) {
      throw new DevstackError(`LIVEKIT_SERVER_BIN=${env.LIVEKIT_SERVER_BIN} is not an executable file.`);
    }
    return env.LIVEKIT_SERVER_BIN;
  }
  const cached = cachedBinaryPath(env);
  if (isExecutable(cached)) return cached;
  const onPath = which('livekit-server', env);
  if (onPath && versionOf(onPath) === LIVEKIT_SERVER_VERSION) return onPath;
  return await buildLivekitServer(cached, env, log, options.goCandidates);
}

/** `go install` into a temp GOBIN inside the cache dir, then an atomic rename: concurrent builds cannot clash. */
export async function buildLivekitServer(
  target: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  goCandidates: readonly string[] = ['/usr/local/go/bin/go'],
): Promise<string> {
  const go = which('go', env) ?? goCandidates.find(isExecutable);
  if (!go) {
    throw new DevstackError(
      `livekit-server v${LIVEKIT_SERVER_VERSION} is not installed and Go is not available to build it.\n` +
        'Either install Go 1.25+ (https://go.dev/doc/install; `apt-get install golang` is often too old) so the ' +
        `devstack can build it once into ${target},\n` +
        `or point LIVEKIT_SERVER_BIN at an existing livekit-server v${LIVEKIT_SERVER_VERSION} binary ` +
        '(releases: https://github.com/livekit/livekit/releases).',
    );
  }
  mkdirSync(path.dirname(target), { recursive: true });
  const gobin = mkdtempSync(path.join(path.dirname(target), '.build-'));
  log(`building livekit-server v${LIVEKIT_SERVER_VERSION} with go install (first run only, ~4 min)...`);
  const started = Date.now();
  const ticker = setInterval(
    () => log(`  ... still building (${Math.round((Date.now() - started) / 1000)} s)`),
    30_000,
  );
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, ['install', `${MODULE}@v${LIVEKIT_SERVER_VERSION}`], {
        env: { ...env, GOBIN: gobin, CGO_ENABLED: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log(`  ${line}`);
      };
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) {
      throw new DevstackError(
        `go install ${MODULE}@v${LIVEKIT_SERVER_VERSION} failed (exit ${code}); see the output above. ` +
          'Alternatively set LIVEKIT_SERVER_BIN to an existing livekit-server binary.',
      );
    }
    renameSync(path.join(gobin, 'server'), target);
    log(`built ${target} in ${Math.round((Date.now() - started) / 1000)} s`);
    return target;
  } finally {
    clearInterval(ticker);
    rmSync(gobin, { recursive: true, force: true });
  }
}
