/**
 * How forked job processes load TypeScript. agents-js forks each job process with `child_process.fork`'s default
 * `execArgv`, the worker's own `process.execArgv`; under tsx that is tsx's loader (`--require …/tsx/dist/preflight.cjs
 * --import …/tsx/dist/loader.mjs`), which costs every job process ~33 MiB RSS (a loader-hooks thread with its own
 * V8 isolate, esbuild) and ~1 s of CPU at start-up. Node 22.18+ (and 24, the image's) strips types itself, and the
 * job's module graph (agent/src, core/src) uses only erasable syntax (`tsconfig.job.json`, run by `npm run
 * typecheck`), so there the job processes are forked without tsx.
 */

/** Node's own TypeScript support: 'strip' or 'transform' where it is on, undefined or false where not (Node 20). */
export function nodeStripsTypes(features: object = process.features): boolean {
  const typescript = (features as { typescript?: string | false }).typescript;
  return typeof typescript === 'string' && typescript.length > 0;
}

const TSX_LOADER = /[/\\]tsx[/\\]dist[/\\](preflight\.cjs|loader\.mjs)$/;

/**
 * `execArgv` without tsx's loader. Node flags come as `--flag value` or `--flag=value`; only the `--require` and
 * `--import` entries that load tsx's own files are dropped, anything else (profilers, V8 flags) is kept.
 */
export function withoutTsxLoader(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] ?? '';
    const next = execArgv[i + 1];
    if (
      (arg === '--require' || arg === '--import' || arg === '-r') &&
      next !== undefined &&
      TSX_LOADER.test(next)
    ) {
      i++;
      continue;
    }
    const eq = /^(--require|--import)=(.*)$/.exec(arg);
    if (eq?.[2] && TSX_LOADER.test(eq[2])) continue;
    out.push(arg);
  }
  return out;
}

/**
 * Makes the job processes this worker forks from now on load TypeScript with Node's type stripping, when `loader`
 * is 'auto' and this Node has it. Returns what it did, for the start-up log. `process.execArgv` is the one
 * setting agents-js leaves to us (its fork options are fixed); the worker itself keeps running as it started.
 */
export function applyJobLoader(loader: 'auto' | 'tsx'): 'node' | 'tsx' {
  if (loader !== 'auto' || !nodeStripsTypes()) return 'tsx';
  const stripped = withoutTsxLoader(process.execArgv);
  process.execArgv.splice(0, process.execArgv.length, ...stripped);
  return 'node';
}

/**
 * Bounds the young generation of the job processes forked from now on (AGENT_JOB_SEMI_SPACE_MB; 0 leaves V8's
 * default). Passed the same way as the loader: through the `execArgv` the forks inherit, after the worker started.
 */
export function applyJobSemiSpace(mb: number): void {
  if (mb > 0) process.execArgv.push(`--max-semi-space-size=${mb}`);
}

/**
 * Caps glibc's malloc arenas in the processes this worker forks from now on (job and inference processes), unless
 * the operator set MALLOC_ARENA_MAX. glibc gives each allocating thread an arena of its own (up to 8 per core), and
 * a job process in a call runs ~25 threads (WebRTC, rtc-node's runtime, onnxruntime, libuv). With 2 arenas a job
 * process held 10 MiB less RSS in a call at the same CPU (bench density, 1 call, Node 24: RSS 239 → 229 MiB, PSS
 * 168 → 158, CPU 0.133 → 0.134 core; bench/README.md, cost per call). glibc reads the variable when a process starts, so it reaches the forks through their env.
 */
export function applyJobMallocArenas(env: NodeJS.ProcessEnv = process.env): void {
  env.MALLOC_ARENA_MAX ??= '2';
}
