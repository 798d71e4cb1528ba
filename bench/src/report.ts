import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DensityLevel } from './density.ts';
import type { MachineInfo, Versions } from './lib/machine.ts';
import type { Pinning } from './lib/pinning.ts';
import type { Summary } from './lib/stats.ts';
import type { TokenBenchRow } from './token-service.ts';
import { cutoffRates, type TurnsResult } from './turns.ts';
import type { SetupResult, VoiceResult } from './voice.ts';

/** One `npm run bench` run as written to bench/results/<timestamp>.json. */
export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  commit: string;
  machine: MachineInfo;
  /** Load average at the end of the run (machine.loadAverage is at the start). */
  loadAverageAtEnd: number[];
  versions: Versions;
  profile: Record<string, number>;
  agentEnv: Record<string, string>;
  note?: string;
  /** Benchmarks that failed (the others still ran). */
  errors?: string[];
  voice?: Omit<VoiceResult, 'perTurn'> & {
    perTurn?: VoiceResult['perTurn'];
    /** One leg of WebRTC audio through livekit-server (bench/src/transport.ts); a turn crosses two. */
    transportLegMs?: Summary;
  };
  setup?: SetupResult;
  density?: {
    levels: DensityLevel[];
    stoppedEarly?: string;
    expectedReplySpanMs: number;
    /** The run pinned the rig and the agent worker to these CPUs (bench/src/lib/pinning.ts). */
    pinning?: Pinning;
    /** Pinned runs: the largest N meeting the one-core bound (density.ts `callsOnOneCore`); 0 = not even one. */
    callsOnOneCore?: number;
  };
  token?: TokenBenchRow[];
  turns?: TurnsResult;
}

export function previousRun(
  dir: string,
  current: string,
  has: (run: BenchRun) => boolean,
): BenchRun | undefined {
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}-\d\d-\d\dT.*\.json$/.test(f) && f !== current)
    .sort()
    .reverse();
  for (const f of files) {
    try {
      const run = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as BenchRun;
      if (has(run)) return run;
    } catch {
      // unreadable: skip
    }
  }
  return undefined;
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : String(v));
const delta = (now: number | undefined, before: number | undefined) =>
  now === undefined || before === undefined || Number.isNaN(now) || Number.isNaN(before)
    ? ''
    : ` (${now - before >= 0 ? '+' : ''}${Math.round((now - before) * 1000) / 1000})`;

/** The key numbers beside the previous recorded run's, one line each. */
export function comparison(run: BenchRun, dir: string, currentFile: string): string[] {
  const lines: string[] = [];
  const line = (label: string, now: number | undefined, before: number | undefined) =>
    lines.push(
      `${label}: ${fmt(now)}${before === undefined ? '' : ` (previous ${fmt(before)})${delta(now, before)}`}`,
    );
  if (run.voice) {
    const prev = previousRun(dir, currentFile, (r) => !!r.voice)?.voice;
    line('voice-to-voice p50 ms', run.voice.voiceToVoiceMs.p50, prev?.voiceToVoiceMs.p50);
    line('voice-to-voice p95 ms', run.voice.voiceToVoiceMs.p95, prev?.voiceToVoiceMs.p95);
    line('overhead above floor p50 ms', run.voice.overheadAboveFloorMs.p50, prev?.overheadAboveFloorMs.p50);
  }
  if (run.setup) {
    const prev = previousRun(dir, currentFile, (r) => !!r.setup)?.setup;
    line('call setup (token → greeting) p50 ms', run.setup.setupMs.p50, prev?.setupMs.p50);
    line('call setup p95 ms', run.setup.setupMs.p95, prev?.setupMs.p95);
  }
  if (run.density) {
    const prev = previousRun(dir, currentFile, (r) => !!r.density)?.density;
    for (const level of run.density.levels) {
      const before = prev?.levels.find((l) => l.calls === level.calls);
      line(`density ${level.calls} calls: v2v p95 ms`, level.voiceToVoiceMs.p95, before?.voiceToVoiceMs.p95);
      line(`density ${level.calls} calls: underruns`, level.underruns, before?.underruns);
      line(`density ${level.calls} calls: CPU per call (cores)`, level.cpuPerCall, before?.cpuPerCall);
      line(`density ${level.calls} calls: RSS per call MiB`, level.rssPerCallMiB, before?.rssPerCallMiB);
      line(`density ${level.calls} calls: PSS per call MiB`, level.pssPerCallMiB, before?.pssPerCallMiB);
    }
  }
  if (run.token) {
    const prev = previousRun(dir, currentFile, (r) => !!r.token)?.token;
    for (const row of run.token) {
      const before = prev?.find((r) => r.connections === row.connections);
      line(`token ${row.connections} clients: p99 ms`, row.latencyMs.p99, before?.latencyMs.p99);
      line(`token ${row.connections} clients: tokens/s`, row.tokensPerSecond, before?.tokensPerSecond);
    }
  }
  return lines;
}

export function markdown(run: BenchRun, compared: string[]): string {
  const out: string[] = [];
  const m = run.machine;
  out.push(`# Benchmark run ${run.startedAt}`, '');
  out.push(
    `Commit \`${run.commit}\`; ${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB; load average ${m.loadAverage.join(' / ')} at the start, ` +
      `${run.loadAverageAtEnd.join(' / ')} at the end (other work shared the machine when these are far above ${m.cores}).`,
  );
  out.push(
    `Node ${run.versions.node} (${run.versions.nodeExecPath ?? 'path not recorded'}), livekit-server ${run.versions.livekitServer}, @livekit/agents ${run.versions.livekitAgents}, ` +
      `@livekit/rtc-node ${run.versions.livekitRtcNode}.`,
  );
  out.push(
    `Stand-in profile: STT final ${run.profile.sttFinalMs} ms after end of speech, Claude first token ${run.profile.llmTtftMs} ms ` +
      `(then ${run.profile.llmTokensPerSecond || 'unpaced'} tokens/s), TTS first byte ${run.profile.ttsTtfbMs} ms.` +
      (Object.keys(run.agentEnv).length ? ` Agent env: ${JSON.stringify(run.agentEnv)}.` : ''),
  );
  if (run.note) out.push('', run.note);
  if (run.errors?.length) out.push('', ...run.errors.map((e) => `- FAILED ${e}`));
  if (run.voice?.failures?.length) out.push('', `${run.voice.failures.length} voice turns got no reply.`);
  if (run.turns) out.push(...turnsMarkdown(run.turns));
  if (run.voice) {
    const v = run.voice;
    out.push(
      '',
      `## Voice-to-voice (caller's end of speech → first audible agent audio), ${v.turns} turns, 1 call`,
      '',
    );
    out.push('| | p50 | p95 | max | mean |', '|:--|--:|--:|--:|--:|');
    out.push(
      `| voice-to-voice ms | ${v.voiceToVoiceMs.p50} | ${v.voiceToVoiceMs.p95} | ${v.voiceToVoiceMs.max} | ${v.voiceToVoiceMs.mean} |`,
    );
    out.push(
      `| overhead above the ${v.floorMs} ms floor | ${v.overheadAboveFloorMs.p50} | ${v.overheadAboveFloorMs.p95} | ${v.overheadAboveFloorMs.max} | ${v.overheadAboveFloorMs.mean} |`,
    );
    if (v.caller)
      out.push(
        '',
        `Caller health: ${v.caller.micDropouts} microphone frames late, event-loop delay p99 ${v.caller.loopDelayP99Ms} ms.`,
      );
    const t = v.timelineP50;
    out.push('', "Where the time goes (medians; one clock, from the stand-ins' records and the caller):", '');
    out.push('| part | ms |', '|:--|--:|');
    out.push(`| uplink: caller end of speech → STT stand-in got the last voiced audio | ${fmt(t.uplink)} |`);
    out.push(
      `| STT: last voiced audio → final transcript (injected ${run.profile.sttFinalMs}) | ${fmt(t.stt)} |`,
    );
    out.push(`| final transcript → Claude request | ${fmt(t.sttToLlm)} |`);
    out.push(`| Claude first token (injected ${run.profile.llmTtftMs}) | ${fmt(t.llmTtft)} |`);
    out.push(`| first token → TTS request | ${fmt(t.llmToTts)} |`);
    out.push(`| TTS first byte (injected ${run.profile.ttsTtfbMs}) | ${fmt(t.ttsTtfb)} |`);
    out.push(
      `| TTS first byte → first loud frame at the caller (end-of-turn hold, playout, downlink) | ${fmt(t.ttsToEar)} |`,
    );
    out.push(`| Claude requests per turn (>1: preemptive request discarded) | ${fmt(t.llmRequests)} |`);
    if (v.transportLegMs)
      out.push(
        '',
        `WebRTC floor: one leg of audio through livekit-server on this machine (rtc-node → SFU → rtc-node, tone ` +
          `onset, ${v.transportLegMs.n} samples) p50 ${v.transportLegMs.p50} ms, p95 ${v.transportLegMs.p95} ms. ` +
          'Every turn crosses two legs (uplink and downlink above each hold one).',
      );
    const a = v.agentMetricsP50;
    out.push(
      '',
      "The agent's own per-turn metrics (framework MetricsReport in the message rows), medians:",
      '',
    );
    out.push(
      '| e2e | sttFinal (transcription delay) | endOfTurn (endpointing wait) | llmTtft | ttsTtfb | caller v2v − agent e2e |',
    );
    out.push('|--:|--:|--:|--:|--:|--:|');
    out.push(
      `| ${fmt(a.e2e)} | ${fmt(a.sttFinal)} | ${fmt(a.endOfTurn)} | ${fmt(a.llmTtft)} | ${fmt(a.ttsTtfb)} | ${fmt(v.unseenByAgentMsP50)} |`,
    );
  }
  if (run.setup) {
    const s = run.setup;
    out.push(
      '',
      `## Call setup (token request → first greeting audio at the caller), ${s.calls} calls one at a time`,
      '',
    );
    out.push('| | p50 | p95 | max |', '|:--|--:|--:|--:|');
    out.push(
      `| token request → greeting heard ms | ${s.setupMs.p50} | ${s.setupMs.p95} | ${s.setupMs.max} |`,
    );
    out.push(`| token request → token ms | ${s.tokenMs.p50} | ${s.tokenMs.p95} | ${s.tokenMs.max} |`);
    const p = s.partsP50;
    out.push(
      '',
      `Medians from the token request: token ${p.token} ms → caller connected and published ${p.callerJoined} ms → ` +
        `agent audio track subscribed ${p.agentTrack} ms → greeting TTS request ${p.greetingTtsRequest} ms → greeting heard ${p.heard} ms. ` +
        `${s.warmCalls}/${s.calls} calls found a prewarmed job process.`,
    );
  }
  if (run.density) {
    out.push('', '## Density (N concurrent calls on one worker)', '');
    out.push(
      '| calls | completed | turns | v2v p50 | v2v p95 | v2v max | underruns | reply stretch p95 ms | CPU/call (cores) | of it JS thread | RSS/call MiB | PSS / USS per call MiB | idle job PSS MiB | worker main CPU | tree CPU | tree RSS MiB | greeting p50 ms | caller mic dropouts | caller loop p99 ms | rig CPU: bench process / Go callers / livekit / other | load avg |',
    );
    out.push('|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:--|');
    for (const l of run.density.levels) {
      out.push(
        `| ${l.calls} | ${l.completedCalls} | ${l.turns} | ${l.voiceToVoiceMs.p50} | ${l.voiceToVoiceMs.p95} | ${l.voiceToVoiceMs.max} | ${l.underruns} | ` +
          `${l.replyStretchMs.p95} | ${l.cpuPerCall} | ${l.jsThreadCpuPerCall ?? ''} | ${l.rssPerCallMiB} | ${fmt(l.pssPerCallMiB)} / ${fmt(l.ussPerCallMiB)} | ${fmt(l.idleJobPssMiB)} | ${l.workerMainCpu} | ${l.treeCpu} | ${l.treeRssMiB} | ${l.setupMs.p50} | ${l.callerMicDropouts} | ${l.callerLoopDelayP99Ms} | ${l.rigCpu ? `${l.rigCpu.benchProcess} / ${l.rigCpu.goCaller ?? '-'} / ${l.rigCpu.livekitServer} / ${l.rigCpu.other}` : ''} | ${l.loadAverage.join(' / ')} |`,
      );
    }
    const rigs = [...new Set(run.density.levels.map((l) => l.rig ?? 'rtc-node'))];
    out.push(
      '',
      `Callers: ${rigs.join(', ')} (rtc-node: ScriptedCaller in the benchmark process; go: bench/go-caller).`,
    );
    for (const l of run.density.levels)
      if (l.goCallerPackets)
        out.push(
          `- ${l.calls} calls, Go callers: ${l.goCallerPackets.loud} of ${l.goCallerPackets.received} agent packets judged speech (${l.goCallerPackets.mime}).`,
        );
    for (const l of run.density.levels)
      for (const f of l.failures.slice(0, 3)) out.push(`- ${l.calls} calls: ${f}`);
    if (run.density.stoppedEarly) out.push('', `Stopped early: ${run.density.stoppedEarly}`);
    const pin = run.density.pinning;
    if (pin) {
      out.push(
        '',
        `Pinned: rig (this process with callers and stand-ins, livekit-server, Postgres, PostgREST, auth, token service) ` +
          `on CPU ${pin.rig}, the agent worker and its job processes on CPU ${pin.agent}.`,
        '',
        '| calls | one-core bound (all completed, 0 underruns, p95 ≤ 1.3 × 1-call p95) | agent core busy | rig core busy | agent processes allowed on | rig processes allowed on |',
        '|--:|:--|--:|--:|:--|:--|',
      );
      const agentCore = Number(pin.agent);
      const rigCore = Number(pin.rig);
      for (const l of run.density.levels) {
        const p = l.pinning;
        out.push(
          `| ${l.calls} | ${l.oneCore ?? ''} | ${fmt(p?.coreBusy[agentCore])} | ${fmt(p?.coreBusy[rigCore])} | ${p?.agentAllowed.join(', ') ?? ''} | ${p?.rigAllowed.join(', ') ?? ''} |`,
        );
      }
      out.push('', `**Calls on one pinned agent core: ${fmt(run.density.callsOnOneCore)}**`);
    }
  }
  if (run.token) {
    out.push(
      '',
      '## Token service (POST /v1/token, full grant, token-service process on the local stack)',
      '',
    );
    out.push(
      '| clients | tokens/s | p50 ms | p90 ms | p99 ms | max ms | errors |',
      '|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const r of run.token)
      out.push(
        `| ${r.connections} | ${r.tokensPerSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.latencyMs.p99} | ${r.latencyMs.max} | ${r.errors} |`,
      );
  }
  out.push('', '## Compared with the previous recorded run', '', ...compared.map((l) => `- ${l}`));
  out.push(
    '',
    'Reproduce: `npm run bench` (all) or `npm run bench -- voice|setup|density|token` (see bench/README.md).',
    '',
  );
  return out.join('\n');
}

function turnsMarkdown(t: TurnsResult): string[] {
  const rates = cutoffRates(t);
  const out = ['', `## Turn-taking (caller voice ${t.voice})`, ''];
  out.push('| pause mid-sentence | trials | false cut-offs | rate |', '|--:|--:|--:|--:|');
  for (const p of t.pauses)
    out.push(`| ${p.pauseMs} ms | ${p.trials} | ${p.falseCutoffs} | ${fmt(p.rate)} |`);
  out.push('');
  out.push(`- False cut-off rate, pauses ≤ 800 ms: ${fmt(rates.upTo800)}; 1200 ms: ${fmt(rates.at1200)}`);
  for (const c of t.cases.filter((c) => c.kind !== 'pause'))
    out.push(
      `- ${c.kind} (${c.pauseMs} ms pauses): ${c.cutOff ? 'CUT OFF' : 'not cut off'}, reply ${fmt(c.replyMs)} ms after the end`,
    );
  out.push(`- Trailing-off question: answered ${fmt(t.trailingReplyMs)} ms after the caller stopped`);
  out.push(
    `- Voice-to-voice on clean questions: p50 ${t.cleanV2vMs.p50} ms, p95 ${t.cleanV2vMs.p95} ms (n ${t.cleanV2vMs.n})`,
  );
  out.push(
    `- Per answered turn (${t.answeredTurns}): Claude requests ${fmt(t.llmRequestsPerTurn)}, speech requests ${fmt(t.speechRequestsPerTurn)}`,
  );
  out.push(
    `- Backchannels that stopped the agent: ${t.backchannels.stopped}/${t.backchannels.trials} (longest silence in ` +
      `the answer between its heard segments: ${(t.backchannels.pausedMs ?? []).join(', ')} ms)`,
  );
  out.push(
    `- Interruptions that stopped the agent within 500 ms: ${t.interruptions.stoppedWithin500}/${t.interruptions.trials} ` +
      `(stopped after ${t.interruptions.stopMs.join(', ')} ms; not stopped ${t.interruptions.notStopped})`,
  );
  if (t.failures.length) out.push(`- Failures: ${t.failures.join('; ')}`);
  return out;
}
