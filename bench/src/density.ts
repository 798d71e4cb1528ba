import path from 'node:path';
import type { RunningStack } from '@voice/devstack/stack';
import { synthesizeSpeech } from '@voice/devstack/standins/espeak';
import { frameRms } from '@voice/devstack/standins/speech-detector';
import { sleep } from '../../e2e/src/agent-speech.ts';
import { BenchCall, type BenchCaller, benchStandinScripts, benchUsers, REPLY, startRig } from './call-rig.ts';
import { GO_CALLER_BINARY, type GoCaller, GoCallerProcess } from './go-caller.ts';
import { startCpuProfile } from './lib/cpu-profile.ts';
import { loadAverage } from './lib/machine.ts';
import { allowedCpus, type Pinning, pinTree, startCoreWindow } from './lib/pinning.ts';
import { startThreadWindow, startWindow, type TreeWindow } from './lib/process-usage.ts';
import { round, type Summary, summarize } from './lib/stats.ts';
import { countJobs, waitForIdlePool } from './voice.ts';

/**
 * Density: N calls at once on one agent worker. Per level a fresh worker keeps N job processes prewarmed (so the
 * calls do not wait for process start-up), the N callers are greeted, the worker refills its idle pool, then
 * every caller speaks `turnsPerCall` questions at its own pace while the worker's process tree is measured.
 *
 * Underruns: a reply that reaches the caller stretched. Each reply is one TTS clip of known length; if the
 * agent's audio output runs dry mid-reply, the caller hears a gap and the reply's first-to-last loud frame span
 * grows beyond the clip's own span.
 */

export interface DensityLevel {
  calls: number;
  completedCalls: number;
  failures: string[];
  turns: number;
  voiceToVoiceMs: Summary;
  /** Reply span at the caller minus the TTS clip's own span. */
  replyStretchMs: Summary;
  /** The fixed stretch an underrun is counted above (see `stretchOffsetMs` in runDensityLevel's options). */
  stretchOffsetMs?: number;
  underruns: number;
  /** CPU share of one core per call (job processes hosting a call), mean. */
  cpuPerCall: number;
  /** Of cpuPerCall, the job process's main thread (JS: the pipeline, VAD inference, FFI calls); the rest is
   * native threads (WebRTC, Opus, audio device, GC helpers). */
  jsThreadCpuPerCall: number;
  /**
   * The rig's own CPU over the same window, beside the agent's: the benchmark process (callers over rtc-node and
   * the provider stand-ins with espeak-ng per reply), livekit-server, and the rest (Postgres, PostgREST, auth,
   * token service). On 2 shared cores this is taken from the agent too.
   */
  rigCpu: { benchProcess: number; livekitServer: number; other: number; goCaller?: number };
  /**
   * Which callers: "rtc-node" (ScriptedCaller in the benchmark process, the default) or "go" (bench/go-caller, one
   * process for the level's calls; its CPU is `rigCpu.goCaller`, not in benchProcess). Absent before the Go caller.
   */
  rig?: 'rtc-node' | 'go';
  /** Go rig: agent packets received and how many were judged speech by size, all calls; the agent track's codec. */
  goCallerPackets?: { received: number; loud: number; mime: string };
  /** The benchmark process's CPU by thread name (share of one core, all calls): where the callers' CPU goes. */
  benchThreadCpu?: Record<string, number>;
  /** RSS of a job process hosting a call, mean MiB. */
  rssPerCallMiB: number;
  /**
   * The same job process's PSS (its share of shared pages: what the machine pays, summed over processes) and USS
   * (its private pages), mean MiB, from smaps_rollup. RSS counts the shared file pages (node binary, onnxruntime,
   * rtc-node) in full in every process. Absent in runs before these were measured.
   */
  pssPerCallMiB?: number;
  ussPerCallMiB?: number;
  /** PSS of the prewarmed job processes not hosting a call (the pool kept for the next calls), mean MiB. */
  idleJobPssMiB?: number;
  workerMainCpu: number;
  treeCpu: number;
  treeRssMiB: number;
  jobProcesses: number;
  setupMs: Summary;
  /** The callers' audio rate, both ways (Hz). */
  callerSampleRate?: number;
  /** The callers' frame length, both ways (ms). */
  callerFrameMs?: number;
  /** Microphone audio (10 ms units) the callers could not send in time, all calls; worst event-loop delay p99 of a caller. */
  callerMicDropouts: number;
  callerLoopDelayP99Ms: number;
  loadAverage: number[];
  windowSeconds: number;
  durationSeconds: number;
  /**
   * When the level ran pinned (`--pin`): the CPU lists asked for, the lists the kernel reported for the agent's
   * processes and the rig's at the end of the window (proof the pinning held), and how busy each core was over the
   * window whoever used it (the agent core minus treeCpu = other sessions' work on that core).
   */
  pinning?: Pinning & { agentAllowed: string[]; rigAllowed: string[]; coreBusy: number[] };
  /** "meets" the one-core bound (`oneCoreShortfall`), or why not. */
  oneCore?: string;
}

/** A stretch above this is an audible gap (one lost 20 ms Opus packet is concealed; 60 ms is not). */
const UNDERRUN_STRETCH_MS = 60;

/** The reply's TTS audio as the stand-in makes it: silence before the first loud 10 ms frame, loud span. */
export async function replyAudioShape(): Promise<{ leadMs: number; spanMs: number }> {
  const pcm = await synthesizeSpeech(REPLY, { sampleRate: 24_000, voice: 'en-us' });
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
  const frame = 240; // 10 ms
  let first = -1;
  let last = -1;
  for (let i = 0; i + frame <= samples.length; i += frame) {
    if (frameRms(samples.subarray(i, i + frame)) > 0.01) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return { leadMs: 0, spanMs: 0 };
  return { leadMs: (first / 24_000) * 1000, spanMs: ((last - first) / 24_000) * 1000 };
}

export async function runDensityLevel(
  stack: RunningStack,
  options: {
    calls: number;
    turnsPerCall: number;
    expectedSpanMs: number;
    /**
     * The measurement's own fixed stretch, from the 1-call level (its smallest reply stretch): every reply of an
     * unloaded single call reached the caller ~70 ms longer than the clip (10 ms frame quantisation at both ends,
     * the agent's playout), so a fixed 60 ms bound flagged all of them. Undefined for the 1-call level itself,
     * which takes its own smallest stretch.
     */
    stretchOffsetMs?: number;
    /** Hard bound for the level, start-up included. */
    timeoutMs: number;
    /** Extra agent environment (`--agent-env`), as for the other benchmarks. */
    agentEnv?: Record<string, string>;
    /** Directory for a CPU profile of this process (the callers) over each level's measured window. */
    cpuProfileDir?: string;
    /** The callers' audio rate (`--caller-rate`). */
    callerSampleRate?: number;
    /** The callers' frame length (`--caller-frame-ms`, default the caller's 20 ms). */
    callerFrameMs?: number;
    /** The Go caller's binary (`buildGoCaller`): the level's calls run in it instead of rtc-node in this process. */
    goCallerBinary?: string;
    /** Rig on one core, agent worker on another (see lib/pinning.ts); undefined = not pinned. */
    pin?: Pinning;
    log: (line: string) => void;
  },
): Promise<DensityLevel> {
  const startedAt = Date.now();
  const n = options.calls;
  // Everything this process has started so far (the stack's services) and everything it starts from now on
  // (token service, stand-ins, espeak-ng) runs on the rig's core; the worker is started on its own.
  if (options.pin) pinTree(process.pid, options.pin.rig);
  const rig = await startRig(stack, {
    idleProcesses: n,
    ...(options.pin ? { agentCpus: options.pin.agent } : {}),
    ...(options.callerSampleRate ? { callerSampleRate: options.callerSampleRate } : {}),
    // The worker takes exactly N calls (e2e's worker default caps at 4). The callers stay silent while the pool
    // refills (up to 2 min on a loaded machine): the agent's idle timer (45 s prompt, 90 s end) must not end the
    // calls before the turns start. `--agent-env` still wins.
    agentEnv: {
      AGENT_MAX_CONCURRENT_CALLS: String(n),
      AGENT_IDLE_TIMEOUT_SECONDS: '600',
      ...options.agentEnv,
    },
    log: options.log,
  });
  const failures: string[] = [];
  const calls: BenchCall<BenchCaller>[] = [];
  let window: TreeWindow | undefined;
  // Started after the pinning above: it inherits the rig's core.
  const goCallers = options.goCallerBinary
    ? new GoCallerProcess(options.goCallerBinary, options.log)
    : undefined;
  try {
    await goCallers?.loadClips(rig.clips);
    const budget = () => options.timeoutMs - (Date.now() - startedAt);
    if (!(await waitForIdlePool(rig, 0, Math.max(0, budget())))) {
      failures.push(`worker did not prewarm ${n} job processes in time`);
      return emptyLevel(n, failures, startedAt);
    }
    rig.standins.configure(benchStandinScripts());
    const users = await benchUsers(rig, n);
    // Calls arrive 150 ms apart (not one burst): closer to real arrivals, and the greeting still overlaps.
    const opened = await Promise.allSettled(
      users.map(async (user, i) => {
        await sleep(i * 150);
        const call = new BenchCall<BenchCaller>(
          {
            sampleRate: rig.callerSampleRate,
            ...(options.callerFrameMs ? { frameMs: options.callerFrameMs } : {}),
          },
          goCallers?.newCaller(),
        );
        calls.push(call);
        await call.open(rig, user, Math.min(90_000, Math.max(5_000, budget())));
        return call;
      }),
    );
    const live = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const r of opened)
      if (r.status === 'rejected') failures.push(`open: ${String(r.reason)}`.slice(0, 200));
    options.log(`density ${n}: ${live.length}/${n} calls greeted; waiting for the idle pool to refill`);
    // The pool replaces every taken process; that start-up work would otherwise land inside the measurement.
    await waitForIdlePool(rig, countJobs(rig), Math.min(120_000, Math.max(0, budget() - 60_000)));
    const measuring = startWindow(rig.worker.process.pid);
    const measuringAll = startWindow(process.pid);
    const cores = startCoreWindow();
    const benchThreads = startThreadWindow(process.pid);
    const profiler = options.cpuProfileDir ? await startCpuProfile() : undefined;
    const turnResults = await Promise.allSettled(
      live.map(async (call, i) => {
        await sleep(((i * 997) % 2000) + 100); // spread the first questions over 2 s
        for (let t = 0; t < options.turnsPerCall; t++) {
          const clip = rig.clips[(i + t) % rig.clips.length];
          if (!clip) throw new Error('no clip');
          if (budget() < 15_000) throw new Error('level time budget exhausted');
          // A turn waits on the caller (speak, then speech, then quiet); a caller whose room went away mid-turn
          // never resolves, and the level hung past its time budget (10 calls, load ~25). Bound each turn.
          await withTimeout(call.turn(clip), 75_000, 'turn timed out (75 s)');
        }
      }),
    );
    window = measuring.end();
    // The Go callers' counters (dropouts, send-loop delay, packets) as of the window's end.
    const goCallerList = goCallers ? live.map((c) => c.caller as GoCaller) : [];
    await Promise.all(goCallerList.map((c) => c.refreshStats()));
    const all = measuringAll.end();
    const coreBusy = cores.end();
    const benchThreadCpu = benchThreads.end();
    if (profiler && options.cpuProfileDir) {
      const file = path.join(options.cpuProfileDir, `density-${n}-calls-${Date.now()}.cpuprofile`);
      await profiler.stop(file);
      options.log(`density ${n}: CPU profile of the benchmark process in ${file}`);
    }
    for (const r of turnResults)
      if (r.status === 'rejected') failures.push(`turn: ${String(r.reason)}`.slice(0, 200));
    const turns = live.flatMap((c) => c.turns);
    const stretch = turns.map((t) => t.replySpanMs - options.expectedSpanMs);
    const offset = Math.max(0, options.stretchOffsetMs ?? (stretch.length ? Math.min(...stretch) : 0));
    const jobs = window.processes.filter((p) => p.isJob).sort((a, b) => b.cpu - a.cpu);
    const busy = jobs.slice(0, live.length);
    const main = window.processes.filter((p) => !p.isJob).reduce((s, p) => s + p.cpu, 0);
    const agentPids = new Set(window.processes.map((p) => p.pid));
    const rigProcesses = all.processes.filter((p) => !agentPids.has(p.pid));
    const cpuOf = (ps: typeof rigProcesses) =>
      round(
        ps.reduce((s, p) => s + p.cpu, 0),
        3,
      );
    const benchOwn = rigProcesses.filter((p) => p.pid === process.pid || /espeak|sox/.test(p.cmdline));
    const livekit = rigProcesses.filter((p) => /livekit-server/.test(p.cmdline));
    const goCallerProcs = rigProcesses.filter((p) => p.cmdline.includes(GO_CALLER_BINARY));
    const allowed = (pids: number[]) => [...new Set(pids.map((pid) => allowedCpus(pid) ?? '?'))].sort();
    return {
      calls: n,
      completedCalls: turnResults.filter((r) => r.status === 'fulfilled').length,
      failures,
      turns: turns.length,
      voiceToVoiceMs: summarize(turns.map((t) => t.voiceToVoiceMs)),
      replyStretchMs: summarize(stretch),
      underruns: stretch.filter((s) => s - offset > UNDERRUN_STRETCH_MS).length,
      stretchOffsetMs: offset,
      cpuPerCall: round(busy.reduce((s, p) => s + p.cpu, 0) / Math.max(1, busy.length), 3),
      jsThreadCpuPerCall: round(busy.reduce((s, p) => s + p.mainThreadCpu, 0) / Math.max(1, busy.length), 3),
      rigCpu: {
        benchProcess: cpuOf(benchOwn),
        livekitServer: cpuOf(livekit),
        other: round(cpuOf(rigProcesses) - cpuOf(benchOwn) - cpuOf(livekit) - cpuOf(goCallerProcs), 3),
        ...(goCallers ? { goCaller: cpuOf(goCallerProcs) } : {}),
      },
      rig: goCallers ? 'go' : 'rtc-node',
      ...(goCallers
        ? {
            goCallerPackets: {
              received: goCallerList.reduce((s, c) => s + c.received, 0),
              loud: goCallerList.reduce((s, c) => s + c.loudPackets, 0),
              mime: goCallerList[0]?.agentMime ?? '',
            },
          }
        : {}),
      benchThreadCpu,
      callerSampleRate: rig.callerSampleRate,
      callerFrameMs: calls[0]?.caller.frameMs,
      rssPerCallMiB: round(busy.reduce((s, p) => s + p.rssMiB, 0) / Math.max(1, busy.length)),
      pssPerCallMiB: meanOf(busy.map((p) => p.pssMiB)),
      ussPerCallMiB: meanOf(busy.map((p) => p.ussMiB)),
      idleJobPssMiB: meanOf(jobs.slice(live.length).map((p) => p.pssMiB)),
      workerMainCpu: round(main, 3),
      treeCpu: round(window.totalCpu, 3),
      treeRssMiB: round(window.totalRssMiB),
      jobProcesses: jobs.length,
      setupMs: summarize(live.map((c) => c.setupMs)),
      callerMicDropouts: live.reduce((sum, c) => sum + c.caller.micDropouts, 0),
      callerLoopDelayP99Ms: Math.round(
        Math.max(0, ...live.map((c) => c.caller.loopDelay.percentile(99) / 1e6)),
      ),
      loadAverage: loadAverage(),
      windowSeconds: round(window.seconds, 1),
      durationSeconds: round((Date.now() - startedAt) / 1000),
      ...(options.pin
        ? {
            pinning: {
              ...options.pin,
              agentAllowed: allowed(window.processes.map((p) => p.pid)),
              rigAllowed: allowed(rigProcesses.map((p) => p.pid)),
              coreBusy,
            },
          }
        : {}),
    };
  } finally {
    await Promise.all(calls.map((c) => c.close()));
    await goCallers?.stop();
    await rig.stop();
  }
}

function meanOf(values: Array<number | undefined>): number {
  const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return known.length ? round(known.reduce((a, b) => a + b, 0) / known.length) : Number.NaN;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function emptyLevel(calls: number, failures: string[], startedAt: number): DensityLevel {
  const empty = summarize([]);
  return {
    calls,
    completedCalls: 0,
    failures,
    turns: 0,
    voiceToVoiceMs: empty,
    replyStretchMs: empty,
    underruns: 0,
    cpuPerCall: Number.NaN,
    jsThreadCpuPerCall: Number.NaN,
    rigCpu: { benchProcess: Number.NaN, livekitServer: Number.NaN, other: Number.NaN },
    rssPerCallMiB: Number.NaN,
    workerMainCpu: Number.NaN,
    treeCpu: Number.NaN,
    treeRssMiB: Number.NaN,
    jobProcesses: 0,
    setupMs: empty,
    callerMicDropouts: 0,
    callerLoopDelayP99Ms: 0,
    loadAverage: loadAverage(),
    windowSeconds: 0,
    durationSeconds: round((Date.now() - startedAt) / 1000),
  };
}

/** Issue 16's bound on latency under load: a level's v2v p95 may be at most this many times the 1-call p95. */
export const ONE_CORE_P95_FACTOR = 1.3;

/**
 * Why a level does not count towards "calls on one core" (undefined: it does): every call completed, no reply
 * underran, and voice-to-voice p95 ≤ 1.3 × the single-call level's p95.
 */
export function oneCoreShortfall(level: DensityLevel, singleCallP95: number | undefined): string | undefined {
  if (level.completedCalls < level.calls) return `${level.calls - level.completedCalls} calls failed`;
  if (level.turns === 0) return 'no turns';
  if (level.underruns > 0) return `${level.underruns} underruns`;
  if (singleCallP95 === undefined || !Number.isFinite(singleCallP95))
    return 'no single-call p95 to compare with';
  const bound = Math.round(ONE_CORE_P95_FACTOR * singleCallP95);
  if (level.voiceToVoiceMs.p95 > bound) return `v2v p95 ${level.voiceToVoiceMs.p95} ms > ${bound} ms`;
  return undefined;
}

/**
 * Calls on one agent core: the largest N such that the level of N calls and every measured level below it meet
 * `oneCoreShortfall` (a level that passes above a failed one is noise, not capacity). Needs the 1-call level as
 * the reference; undefined without it or when even one call fails the bound.
 */
export function callsOnOneCore(levels: readonly DensityLevel[]): number | undefined {
  const sorted = [...levels].sort((a, b) => a.calls - b.calls);
  const single = sorted.find((l) => l.calls === 1);
  if (!single) return undefined;
  let best: number | undefined;
  for (const level of sorted) {
    if (oneCoreShortfall(level, single.voiceToVoiceMs.p95) !== undefined) break;
    best = level.calls;
  }
  return best;
}
