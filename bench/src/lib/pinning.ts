import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { descendants } from './process-usage.ts';

/**
 * CPU pinning for the density benchmark (issue 16): the rig (this process with its callers and stand-ins,
 * livekit-server, Postgres, PostgREST, auth, the token service) on one core, the agent worker with its job
 * processes alone on another, so "calls on one core" is the agent's figure and not the rig's. Linux only
 * (`taskset`, /proc).
 */
export interface Pinning {
  /** `taskset -c` list for the rig, e.g. "0". */
  rig: string;
  /** `taskset -c` list for the agent worker and its job processes, e.g. "1". */
  agent: string;
}

/** "0:1" → rig on 0, agent on 1; "off" → undefined. */
export function parsePinning(value: string): Pinning | undefined {
  if (value === 'off') return undefined;
  const match = /^([\d,-]+):([\d,-]+)$/.exec(value);
  if (!match?.[1] || !match[2])
    throw new Error(`--pin wants RIG:AGENT CPU lists (e.g. 0:1) or off, got "${value}"`);
  return { rig: match[1], agent: match[2] };
}

/** Every CPU of the machine as a `taskset -c` list (to undo a pinning). */
export function allCpus(): string {
  return `0-${os.cpus().length - 1}`;
}

/**
 * Sets the affinity of a process tree, every thread of every process (`taskset -a`): threads and processes
 * started later inherit it from the thread that creates them. Processes that exit meanwhile are skipped.
 */
export function pinTree(root: number, cpus: string): void {
  for (const pid of descendants(root)) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    } catch {
      // exited between listing and pinning
    }
  }
}

/** The CPUs a process may run on, as the kernel lists them (`Cpus_allowed_list`), e.g. "1" or "0-1". */
export function allowedCpus(pid: number): string | undefined {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Per-CPU busy ticks (everything but idle and iowait) and total ticks from /proc/stat. */
function cpuTicks(): Array<{ busy: number; total: number }> {
  const out: Array<{ busy: number; total: number }> = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const v = m[2].split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out[Number(m[1])] = { busy: total - idle, total };
  }
  return out;
}

/**
 * How busy each core was over a window (0..1), whoever used it: with the agent alone on its core, that core's
 * figure minus the agent tree's CPU is what other work on the machine (other sessions) took from it.
 */
export function startCoreWindow(): { end(): number[] } {
  const before = cpuTicks();
  return {
    end() {
      return cpuTicks().map((after, i) => {
        const b = before[i];
        if (!b) return Number.NaN;
        const total = after.total - b.total;
        return total > 0 ? Math.round(((after.busy - b.busy) / total) * 1000) / 1000 : 0;
      });
    },
  };
}
