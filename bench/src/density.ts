import type { RunningStack } from '@voice/devstack/stack';
import { synthesizeSpeech } from '@voice/devstack/standins/espeak';
import { frameRms } from '@voice/devstack/standins/speech-detector';
import { sleep } from '../../e2e/src/agent-speech.ts';
import { BenchCall, benchStandinScripts, benchUsers, REPLY, startRig } from './call-rig.ts';
import { loadAverage } from './lib/machine.ts';
import { startWindow, type TreeWindow } from './lib/process-usage.ts';
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
  rigCpu: { benchProcess: number; livekitServer: number; other: number };
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
  /** Microphone frames the callers could not send in time, all calls; worst event-loop delay p99 of a caller. */
  callerMicDropouts: number;
  callerLoopDelayP99Ms: number;
  loadAverage: number[];
  windowSeconds: number;
  durationSeconds: number;
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
    /** Hard bound for the level, start-up included. */
    timeoutMs: number;
    /** Extra agent environment (`--agent-env`), as for the other benchmarks. */
    agentEnv?: Record<string, string>;
    log: (line: string) => void;
  },
): Promise<DensityLevel> {
  const startedAt = Date.now();
  const n = options.calls;
  const rig = await startRig(stack, {
    idleProcesses: n,
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
  const calls: BenchCall[] = [];
  let window: TreeWindow | undefined;
  try {
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
        const call = new BenchCall();
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
    const all = measuringAll.end();
    for (const r of turnResults)
      if (r.status === 'rejected') failures.push(`turn: ${String(r.reason)}`.slice(0, 200));
    const turns = live.flatMap((c) => c.turns);
    const stretch = turns.map((t) => t.replySpanMs - options.expectedSpanMs);
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
    return {
      calls: n,
      completedCalls: turnResults.filter((r) => r.status === 'fulfilled').length,
      failures,
      turns: turns.length,
      voiceToVoiceMs: summarize(turns.map((t) => t.voiceToVoiceMs)),
      replyStretchMs: summarize(stretch),
      underruns: stretch.filter((s) => s > UNDERRUN_STRETCH_MS).length,
      cpuPerCall: round(busy.reduce((s, p) => s + p.cpu, 0) / Math.max(1, busy.length), 3),
      jsThreadCpuPerCall: round(busy.reduce((s, p) => s + p.mainThreadCpu, 0) / Math.max(1, busy.length), 3),
      rigCpu: {
        benchProcess: cpuOf(benchOwn),
        livekitServer: cpuOf(livekit),
        other: round(cpuOf(rigProcesses) - cpuOf(benchOwn) - cpuOf(livekit), 3),
      },
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
    };
  } finally {
    await Promise.all(calls.map((c) => c.close()));
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
