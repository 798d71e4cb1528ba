import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { DevstackError } from '../errors.ts';

/**
 * A child process of the stack: output appended to its own log file, stopped with SIGTERM then SIGKILL, and
 * never outliving us. Two safety nets beyond `stop()`:
 * - on Linux it starts under `setpriv --pdeathsig SIGTERM`, so the kernel signals it when this Node process dies
 *   in any way, including SIGKILL (which runs no handler);
 * - a synchronous `exit` hook SIGKILLs whatever is still registered.
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** True until the process has exited. */
  readonly running: boolean;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(timeoutMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * CPU list for `taskset -c` (e.g. "1"): the process, its threads and every process it forks run only there.
   * Unset = the parent's affinity (the default everywhere but the density benchmark, which pins the agent worker
   * to a core of its own so the rig's CPU does not count against the agent).
   */
  cpus?: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

const SETPRIV = '/usr/bin/setpriv';
const hasSetpriv = process.platform === 'linux' && existsSync(SETPRIV);
const TASKSET = '/usr/bin/taskset';

export function spawnManaged(options: SpawnOptions): ManagedProcess {
  installExitHook();
  const logFd = openSync(options.logFile, 'a');
  const [plainCommand, plainArgs] = hasSetpriv
    ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', options.command, ...options.args]]
    : [options.command, options.args];
  if (options.cpus !== undefined && !existsSync(TASKSET))
    throw new DevstackError(`Cannot pin ${options.name} to CPUs ${options.cpus}: ${TASKSET} is missing.`);
  // taskset sets the affinity and execs (same pid), so the pid we hold is still the service's.
  const [command, args] =
    options.cpus === undefined
      ? [plainCommand, plainArgs]
      : [TASKSET, ['-c', options.cpus, plainCommand, ...plainArgs]];
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ['ignore', logFd, logFd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    closeSync(logFd);
  }
  if (child.pid === undefined) {
    throw new DevstackError(`Could not start ${options.name} (${options.command}).`);
  }
  live.add(child);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      resolve({ code, signal });
    });
  });
  // A spawn error (e.g. ENOENT) also ends in 'exit' or is reported here; keep it from crashing the process.
  child.once('error', () => {
    running = false;
    live.delete(child);
  });
  const pid = child.pid;

  return {
    name: options.name,
    pid,
    get running() {
      return running;
    },
    exited,
    async stop(timeoutMs = 5_000) {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** True if a process with this pid exists and is not a zombie. Tests use it to prove nothing is left behind. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); its state letter in /proc/<pid>/stat says it has exited.
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
