import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cachedBinaryPath } from '@voice/devstack/processes/livekit-binary';
import type { RunningStack } from '@voice/devstack/stack';
import { BENCH_PROFILE, removeBenchStackDir, startRig, startStackForBench } from './call-rig.ts';
import { callsOnOneCore, oneCoreShortfall, replyAudioShape, runDensityLevel } from './density.ts';
import { buildGoCaller } from './go-caller.ts';
import { runFigures, writeLatestSummary } from './lib/latest-summary.ts';
import { gitCommit, loadAverage, machineInfo, versions } from './lib/machine.ts';
import { allCpus, type Pinning, parsePinning, pinTree } from './lib/pinning.ts';
import { type BenchRun, comparison, markdown } from './report.ts';
import { runTokenServiceBench, writeTokenBenchResults } from './token-service.ts';
import { measureAudioLeg } from './transport.ts';
import { cutoffRates, runTurnsBench } from './turns.ts';
import { runSetupBench, runVoiceBench } from './voice.ts';

/**
 * `npm run bench [-- voice setup density token turns] [--turns 32] [--turns-repeats 1] [--setup-calls 10] [--density 1,5,10,20]
 *   [--turns-per-call 4] [--token-duration 10] [--token-path direct|rest] [--agent-env KEY=VALUE ...] [--note "..."]`
 *
 * Runs the benchmarks over the real local stack (livekit-server, Postgres, PostgREST, auth server) with the real
 * agent worker and the provider stand-ins at the issue-8 profile, writes bench/results/<timestamp>.json and
 * bench/results/latest.md (earlier runs stay), and prints the comparison with the previous recorded run.
 */
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
const ALL = ['voice', 'setup', 'density', 'token', 'turns'] as const;
type BenchName = (typeof ALL)[number];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    turns: { type: 'string', default: '32' },
    'turns-repeats': { type: 'string', default: '1' },
    'setup-calls': { type: 'string', default: '10' },
    density: { type: 'string', default: '1,5,10,20' },
    'turns-per-call': { type: 'string', default: '4' },
    'density-level-timeout': { type: 'string', default: '300' },
    'token-duration': { type: 'string', default: '10' },
    // direct: the service talks to Postgres itself (TOKEN_DATABASE_URL), the path issue 16's CPU budget is set on;
    // rest: through the gateway and PostgREST (the default deployment without TOKEN_DATABASE_URL).
    'token-path': { type: 'string', default: 'direct' },
    'agent-env': { type: 'string', multiple: true, default: [] },
    // Density only: RIG:AGENT taskset CPU lists ("0:1": callers, stand-ins, livekit-server and the stack on core 0,
    // the agent worker and its job processes on core 1), or "off". The other benchmarks never pin.
    pin: { type: 'string', default: '0:1' },
    // Density: the callers' audio rate both ways (Opus stays 48 kHz on the wire; less audio through FFI and JS).
    'caller-rate': { type: 'string', default: '16000' },
    // Density: the callers' frame length both ways, ms (each frame is an FFI request or event and a JS wake-up).
    'caller-frame-ms': { type: 'string' },
    // Density: which callers. "rtc-node" (default): ScriptedCaller in this process, the e2e tests' caller. "go":
    // bench/go-caller (pre-encoded Opus out, onsets from RTP packet sizes in), built with `go build` into the cache.
    rig: { type: 'string', default: 'rtc-node' },
    // Density: a CPU profile of the benchmark process (its callers) over each level's window, written to this dir.
    'cpu-profile': { type: 'string' },
    note: { type: 'string' },
  },
});
const selected: BenchName[] = positionals.length
  ? positionals.map((p) => {
      if (!(ALL as readonly string[]).includes(p))
        throw new Error(`unknown benchmark "${p}" (${ALL.join(', ')})`);
      return p as BenchName;
    })
  : [...ALL];
const agentEnv = Object.fromEntries(
  (values['agent-env'] ?? []).map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--agent-env wants KEY=VALUE, got "${kv}"`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);
const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const startedAt = new Date();
const run: BenchRun = {
  startedAt: startedAt.toISOString(),
  finishedAt: '',
  commit: gitCommit(),
  machine: machineInfo(),
  loadAverageAtEnd: [],
  versions: versions(cachedBinaryPath()),
  profile: { ...BENCH_PROFILE, sttEndpointSilenceMs: 150 },
  agentEnv,
  ...(values.note ? { note: values.note } : {}),
};
log(
  `node ${run.versions.node} (${process.execPath}); the agent worker runs on the node first on PATH: ${run.versions.agentNode}`,
);
if (run.versions.agentNode !== run.versions.node)
  log(
    'WARNING: the agent would run on another Node than the benchmark: put the wanted Node first on PATH (bench/README.md)',
  );
log(
  `machine: ${run.machine.cpuModel}, ${run.machine.cores} cores, load average ${run.machine.loadAverage.join(' / ')}`,
);

/** One benchmark failing is recorded in the run and does not stop the others. */
async function attempt(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    run.errors = [...(run.errors ?? []), `${name}: ${String(error).slice(0, 300)}`];
    log(`${name} failed: ${String(error)}`);
  }
}

let stack: RunningStack | undefined;
try {
  if (selected.some((b) => b !== 'token')) {
    log('starting the local stack');
    stack = await startStackForBench();
  }
  if (stack && selected.includes('turns')) {
    const rig = await startRig(stack, { agentEnv, log });
    try {
      log('turn-taking: pauses, clean questions, backchannels, interruptions');
      await attempt('turns', async () => {
        run.turns = await runTurnsBench(rig, { repeats: Number(values['turns-repeats']), log });
        const rates = cutoffRates(run.turns);
        log(
          `turns: false cut-offs ≤800 ms ${rates.upTo800}, 1200 ms ${rates.at1200}; clean v2v p50 ` +
            `${run.turns.cleanV2vMs.p50} ms, p95 ${run.turns.cleanV2vMs.p95} ms; Claude requests/turn ` +
            `${run.turns.llmRequestsPerTurn}; backchannels stopped ${run.turns.backchannels.rate}; interruptions ` +
            `stopped within 500 ms ${run.turns.interruptions.rate}`,
        );
      });
    } finally {
      await rig.stop();
    }
  }
  if (stack && (selected.includes('voice') || selected.includes('setup'))) {
    // The voice and setup questions are espeak-ng clips, whose flat prosody the end-of-turn model reads as
    // unfinished (3 of 4 finished questions): with the default TURN_DETECTION=model every answer would wait the
    // full TURN_MAX_ENDPOINTING_MS. These two measure the pipeline's speed, so they end turns on silence
    // (comparable with every earlier run); the turns benchmark measures the model's wait on Flite speech.
    // `--agent-env TURN_DETECTION=model` overrides it.
    const pipelineEnv = { TURN_DETECTION: 'vad', ...agentEnv };
    log(`voice/setup agent env: ${JSON.stringify(pipelineEnv)}`);
    const rig = await startRig(stack, { agentEnv: pipelineEnv, log });
    try {
      if (selected.includes('voice')) {
        log(`voice-to-voice: ${values.turns} turns`);
        await attempt('voice', async () => {
          run.voice = await runVoiceBench(rig, { turns: Number(values.turns), log });
          run.voice.ttsLeadSilenceMs = Math.round((await replyAudioShape()).leadMs);
          run.voice.transportLegMs = await measureAudioLeg(rig.stack.info.livekit, { onsets: 20 });
          log(
            `voice-to-voice p50 ${run.voice.voiceToVoiceMs.p50} ms, p95 ${run.voice.voiceToVoiceMs.p95} ms; ` +
              `one WebRTC audio leg p50 ${run.voice.transportLegMs.p50} ms`,
          );
        });
      }
      if (selected.includes('setup')) {
        log(`call setup: ${values['setup-calls']} calls`);
        await attempt('setup', async () => {
          run.setup = await runSetupBench(rig, { calls: Number(values['setup-calls']), log });
          log(`call setup p50 ${run.setup.setupMs.p50} ms, p95 ${run.setup.setupMs.p95} ms`);
        });
      }
    } finally {
      await rig.stop();
    }
  }
  if (stack && selected.includes('density')) {
    const expected = (await replyAudioShape()).spanMs;
    run.density = { levels: [], expectedReplySpanMs: Math.round(expected) };
    const singleP95 = () => run.density?.levels[0]?.voiceToVoiceMs.p95;
    const pin: Pinning | undefined = values.pin === undefined ? undefined : parsePinning(values.pin);
    if (pin) {
      run.density.pinning = pin;
      log(`density: rig pinned to CPU ${pin.rig}, agent worker to CPU ${pin.agent}`);
    }
    if (values.rig !== 'rtc-node' && values.rig !== 'go')
      throw new Error(`--rig must be rtc-node or go, not ${values.rig}`);
    const goCallerBinary = values.rig === 'go' ? await buildGoCaller(log) : undefined;
    let missedInARow = 0;
    for (const calls of (values.density ?? '')
      .split(',')
      .map(Number)
      .filter((n) => n > 0)) {
      log(`density: ${calls} concurrent calls`);
      const level = await runDensityLevel(stack, {
        calls,
        turnsPerCall: Number(values['turns-per-call']),
        expectedSpanMs: expected,
        ...(run.density.levels[0]?.stretchOffsetMs !== undefined
          ? { stretchOffsetMs: run.density.levels[0].stretchOffsetMs }
          : {}),
        timeoutMs: Number(values['density-level-timeout']) * 1000,
        agentEnv,
        ...(pin ? { pin } : {}),
        callerSampleRate: Number(values['caller-rate']),
        ...(values['caller-frame-ms'] ? { callerFrameMs: Number(values['caller-frame-ms']) } : {}),
        ...(values['cpu-profile'] ? { cpuProfileDir: values['cpu-profile'] } : {}),
        ...(goCallerBinary ? { goCallerBinary } : {}),
        log,
      });
      run.density.levels.push(level);
      const shortfall = oneCoreShortfall(level, singleP95());
      level.oneCore = shortfall ?? 'meets';
      missedInARow = shortfall ? missedInARow + 1 : 0;
      log(
        `density ${calls}: ${level.completedCalls}/${calls} calls completed, v2v p95 ${level.voiceToVoiceMs.p95} ms, ` +
          `${level.underruns} underruns, CPU/call ${level.cpuPerCall}, RSS/call ${level.rssPerCallMiB} MiB`,
      );
      // Broken = calls failed, or the caller hears it: underruns, or p95 over twice the single-call p95.
      const base = singleP95();
      const reason =
        level.completedCalls < calls
          ? `${calls - level.completedCalls} of ${calls} calls failed (${level.failures[0] ?? ''})`
          : level.underruns > level.turns / 4
            ? `${level.underruns} of ${level.turns} replies had underruns`
            : base !== undefined && level.voiceToVoiceMs.p95 > 2 * base
              ? `voice-to-voice p95 ${level.voiceToVoiceMs.p95} ms is over twice the single-call ${base} ms`
              : missedInARow >= 2
                ? `two levels in a row missed the one-core bound (${shortfall})`
                : undefined;
      if (reason) {
        run.density.stoppedEarly = `at ${calls} calls: ${reason}`;
        log(`density: stopping early, ${run.density.stoppedEarly}`);
        break;
      }
    }
    if (pin) {
      run.density.callsOnOneCore = callsOnOneCore(run.density.levels) ?? 0;
      log(`density: ${run.density.callsOnOneCore} calls on one pinned agent core`);
      pinTree(process.pid, allCpus());
    }
  }
} catch (error) {
  run.errors = [...(run.errors ?? []), `stack: ${String(error).slice(0, 300)}`];
  log(`failed: ${String(error)}`);
} finally {
  await stack?.stop().catch(() => {});
  const logs = removeBenchStackDir();
  if (logs) log(`logs kept in ${logs}`);
}
if (selected.includes('token')) {
  log(`token service (${values['token-path']} database path): 1, 10, 50 clients`);
  await attempt('token', async () => {
    const tokenPath = values['token-path'];
    if (tokenPath !== 'direct' && tokenPath !== 'rest')
      throw new Error(`--token-path wants direct or rest, got "${tokenPath}"`);
    run.token = await runTokenServiceBench({
      durationSeconds: Number(values['token-duration']),
      serviceEnv: tokenPath === 'direct' ? { TOKEN_DATABASE_URL: 'stack' } : {},
    });
    writeTokenBenchResults(run.token);
  });
}

run.finishedAt = new Date().toISOString();
run.loadAverageAtEnd = loadAverage();
mkdirSync(RESULTS_DIR, { recursive: true });
const file = `${run.startedAt.replace(/:/g, '-').replace(/\..*/, '')}Z.json`;
const compared = comparison(run, RESULTS_DIR, file);
writeFileSync(path.join(RESULTS_DIR, file), `${JSON.stringify(run, null, 2)}\n`);
const md = markdown(run, compared);
writeFileSync(path.join(RESULTS_DIR, 'latest.md'), md);
writeFileSync(path.join(RESULTS_DIR, file.replace(/\.json$/, '.md')), md);
writeLatestSummary(RESULTS_DIR, file, runFigures(run), run.versions.agentNode ?? run.versions.node);
process.stdout.write(`${md}\n`);
log(`wrote bench/results/${file}, latest.md and latest.json`);
process.exit(0);
