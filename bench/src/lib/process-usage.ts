import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU and memory of a process tree from /proc (Linux): the agent worker is `tsx` → node worker → one forked
 * node process per job (and per prewarmed idle job), so a single pid says little.
 */
const CLOCK_TICKS = 100; // USER_HZ on Linux
const PAGE_KB = 4;

export interface ProcessSample {
  pid: number;
  ppid: number;
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssMiB: number;
  /** CPU seconds of the main thread alone (the JS event loop; the rest is native threads: WebRTC, Opus, GC). */
  mainThreadCpuSeconds: number;
  /** A forked agents-js job process (hosts one call, or waits prewarmed). */
  isJob: boolean;
  cmdline: string;
}

export function descendants(root: number): number[] {
  const out: number[] = [];
  const visit = (pid: number) => {
    out.push(pid);
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    } catch {
      return;
    }
    for (const child of children) visit(Number(child));
  };
  visit(root);
  return out;
}

export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssPages = Number(fields[21]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const main = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const mainFields = main.slice(main.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      ppid,
      cpuSeconds: (utime + stime) / CLOCK_TICKS,
      rssMiB: (rssPages * PAGE_KB) / 1024,
      mainThreadCpuSeconds: (Number(mainFields[11]) + Number(mainFields[12])) / CLOCK_TICKS,
      isJob: /job_proc_lazy_main/.test(cmdline),
      cmdline: cmdline.replaceAll('\0', ' '),
    };
  } catch {
    return undefined; // exited between listing and reading
  }
}

/**
 * Memory of a process as the machine pays it, from /proc/<pid>/smaps_rollup (Linux 4.14+). RSS counts every
 * resident page the process maps, shared file pages (the node binary, onnxruntime, rtc-node) included in full in
 * every process; PSS divides each shared page among the processes mapping it (summed over processes it is the
 * real total); USS is the process's private pages alone (what ending it would free).
 */
export interface MemoryRollup {
  rssMiB: number;
  pssMiB: number;
  ussMiB: number;
}

export function memoryRollup(pid: number): MemoryRollup | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined; // exited, or no smaps_rollup
  }
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rssMiB: kb('Rss') / 1024,
    pssMiB: kb('Pss') / 1024,
    ussMiB: (kb('Private_Clean') + kb('Private_Dirty')) / 1024,
  };
}

export function sampleTree(root: number): ProcessSample[] {
  return descendants(root)
    .map(sampleProcess)
    .filter((s): s is ProcessSample => s !== undefined);
}

export interface TreeWindow {
  seconds: number;
  /** Per process: CPU share of one core over the window (1 = 100 %), RSS at the end. */
  processes: Array<{
    pid: number;
    isJob: boolean;
    cmdline: string;
    cpu: number;
    /** CPU share of the main (JS) thread alone. */
    mainThreadCpu: number;
    rssMiB: number;
    /** From smaps_rollup at the end of the window (job processes only: reading it walks every mapping). */
    pssMiB?: number;
    ussMiB?: number;
  }>;
  totalCpu: number;
  totalRssMiB: number;
}

/** Starts a measurement window over a process tree; `end()` gives each process's CPU share and memory. */
export function startWindow(root: number): { end(): TreeWindow } {
  const startedAt = performance.now();
  const before = new Map(sampleTree(root).map((s) => [s.pid, s]));
  return {
    end() {
      const seconds = (performance.now() - startedAt) / 1000;
      const after = sampleTree(root);
      const processes = after.map((s) => ({
        pid: s.pid,
        isJob: s.isJob,
        cmdline: s.cmdline,
        cpu: (s.cpuSeconds - (before.get(s.pid)?.cpuSeconds ?? 0)) / seconds,
        mainThreadCpu: (s.mainThreadCpuSeconds - (before.get(s.pid)?.mainThreadCpuSeconds ?? 0)) / seconds,
        rssMiB: s.rssMiB,
        ...(s.isJob ? pssUss(s.pid) : {}),
      }));
      return {
        seconds,
        processes,
        totalCpu: processes.reduce((sum, p) => sum + p.cpu, 0),
        totalRssMiB: processes.reduce((sum, p) => sum + p.rssMiB, 0),
      };
    },
  };
}

function pssUss(pid: number): { pssMiB?: number; ussMiB?: number } {
  const m = memoryRollup(pid);
  return m ? { pssMiB: m.pssMiB, ussMiB: m.ussMiB } : {};
}

/** CPU seconds of each thread of a process, by thread name (`comm`; threads of one name summed). */
export function threadCpuByName(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name =
        Number(tid) === pid ? 'main (JS)' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
      out.set(name, (out.get(name) ?? 0) + seconds);
    } catch {
      // thread exited
    }
  }
  return out;
}

/**
 * A window over one process's threads: CPU share of one core per thread name. Threads that exit inside the window
 * take their ticks with them (the kernel folds them into the process total only), so the shares can undercount.
 */
export function startThreadWindow(pid: number): { end(): Record<string, number> } {
  const startedAt = performance.now();
  const before = threadCpuByName(pid);
  return {
    end() {
      const seconds = (performance.now() - startedAt) / 1000;
      const shares: Record<string, number> = {};
      for (const [name, cpu] of threadCpuByName(pid)) {
        const share = (cpu - (before.get(name) ?? 0)) / seconds;
        if (share >= 0.0005) shares[name] = Math.round(share * 1000) / 1000;
      }
      return Object.fromEntries(Object.entries(shares).sort((a, b) => b[1] - a[1]));
    },
  };
}
