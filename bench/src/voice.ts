import type { ProviderStandins } from '@voice/devstack/standins/index';
import { sleep } from '../../e2e/src/agent-speech.ts';
import {
  type AgentTurnMetrics,
  agentTurnMetrics,
  BenchCall,
  benchStandinScripts,
  benchUsers,
  FLOOR_MS,
  type Rig,
  type Turn,
} from './call-rig.ts';
import { type Summary, summarize } from './lib/stats.ts';

/**
 * Voice-to-voice latency: one caller over real WebRTC speaks question after question; at the caller, the time
 * from the end of its speech to the first loud frame of the reply. Each turn is also cut into parts on one
 * clock (everything runs on this machine) from the stand-ins' records, and set beside the agent's own metrics.
 */

/** One turn on one timeline, ms. The parts add up to voiceToVoice. */
export interface TurnTimeline {
  voiceToVoice: number;
  /** Caller's end of speech → the Deepgram stand-in received the last voiced audio (caller → SFU → agent → STT). */
  uplink: number;
  /** Last voiced audio received → final transcript sent (the injected 150 ms plus endpoint detection). */
  stt: number;
  /** Final sent → Claude request received (agent reacts to the transcript; preemptive generation). */
  sttToLlm: number;
  /** Claude request → first token (the injected 400 ms). */
  llmTtft: number;
  /** First token → TTS request (sentence assembly). */
  llmToTts: number;
  /** TTS request → first byte (the injected 200 ms). */
  ttsTtfb: number;
  /** TTS first byte → first loud frame at the caller (waiting for end of turn, playout, agent → SFU → caller). */
  ttsToEar: number;
  /** LLM requests started for this turn (more than one: a preemptive request was discarded). */
  llmRequests: number;
}

export interface VoiceResult {
  turns: number;
  voiceToVoiceMs: Summary;
  overheadAboveFloorMs: Summary;
  floorMs: number;
  /** Medians of the timeline parts over all turns. */
  timelineP50: Omit<TurnTimeline, 'llmRequests'> & { llmRequests: number };
  /** The agent's own per-turn metrics (framework MetricsReport, from the message rows), medians. */
  agentMetricsP50: Record<keyof AgentTurnMetrics, number>;
  /** Caller-measured minus agent e2e: what the agent's own clock cannot see (uplink before VAD, downlink). */
  unseenByAgentMsP50: number;
  perTurn: Array<Turn & { timeline?: TurnTimeline; agent?: AgentTurnMetrics }>;
  replySpanMs: Summary;
  /** Turns that got no reply (the run goes on; three in a row end it). */
  failures?: string[];
  /**
   * Silence at the start of the stand-in's reply audio (RMS frames of 10 ms). Since OpenAISpeech trims inaudible
   * lead-in samples, the agent no longer plays it; recorded to compare with runs before that.
   */
  ttsLeadSilenceMs?: number;
  /** The caller's own health: microphone frames it could not send in time, its event-loop delay p99. */
  caller?: { micDropouts: number; loopDelayP99Ms: number };
}

export async function runVoiceBench(
  rig: Rig,
  options: { turns: number; log: (line: string) => void },
): Promise<VoiceResult> {
  const [user] = await benchUsers(rig, 1);
  if (!user) throw new Error('no user');
  rig.standins.reset();
  rig.standins.configure(benchStandinScripts());
  const call = new BenchCall();
  const failures: string[] = [];
  try {
    await call.open(rig, user);
    options.log(`voice: greeting heard ${call.setupMs} ms after the token request`);
    for (let i = 0; i < options.turns; i++) {
      const clip = rig.clips[i % rig.clips.length];
      if (!clip) throw new Error('no clip');
      const turn = await call.turn(clip);
      if ((i + 1) % 5 === 0)
        options.log(`voice: ${i + 1}/${options.turns} turns, last ${turn.voiceToVoiceMs} ms`);
    }
  } finally {
    await call.close();
  }
  const conversationId = call.grant?.conversation_id ?? '';
  const agent = await agentTurnMetrics(rig, conversationId, call.turns.length);
  const perTurn = call.turns.map((turn, i) => ({
    ...turn,
    timeline: timelineOf(rig.standins, turn, call.turns[i - 1]?.heardAt ?? call.greetingAt),
    agent: agent[i],
  }));
  return {
    ...summarizeVoice(perTurn),
    failures,
    caller: {
      micDropouts: call.caller.micDropouts,
      loopDelayP99Ms: Math.round(call.caller.loopDelay.percentile(99) / 1e6),
    },
  };
}

export function summarizeVoice(perTurn: VoiceResult['perTurn']): VoiceResult {
  const v2v = perTurn.map((t) => t.voiceToVoiceMs);
  const timelines = perTurn.flatMap((t) => (t.timeline ? [t.timeline] : []));
  const agents = perTurn.flatMap((t) => (t.agent ? [t.agent] : []));
  const median = <T>(rows: T[], pick: (row: T) => number | undefined) =>
    summarize(rows.map(pick).filter((v): v is number => v !== undefined)).p50;
  const keys = [
    'uplink',
    'stt',
    'sttToLlm',
    'llmTtft',
    'llmToTts',
    'ttsTtfb',
    'ttsToEar',
    'llmRequests',
  ] as const;
  const timelineP50 = Object.fromEntries(keys.map((k) => [k, median(timelines, (t) => t[k])])) as Record<
    (typeof keys)[number],
    number
  >;
  const agentKeys = ['e2e', 'sttFinal', 'endOfTurn', 'llmTtft', 'ttsTtfb'] as const;
  const agentMetricsP50 = Object.fromEntries(
    agentKeys.map((k) => [k, median(agents, (a) => a[k])]),
  ) as Record<keyof AgentTurnMetrics, number>;
  return {
    turns: perTurn.length,
    voiceToVoiceMs: summarize(v2v),
    overheadAboveFloorMs: summarize(v2v.map((v) => v - FLOOR_MS)),
    floorMs: FLOOR_MS,
    timelineP50: { voiceToVoice: median(timelines, (t) => t.voiceToVoice), ...timelineP50 },
    agentMetricsP50,
    unseenByAgentMsP50: median(perTurn, (t) =>
      t.agent?.e2e === undefined ? undefined : t.voiceToVoiceMs - t.agent.e2e,
    ),
    perTurn,
    replySpanMs: summarize(perTurn.map((t) => t.replySpanMs)),
  };
}

/**
 * Cuts one turn of a single-call run into parts from the stand-ins' records. Only valid when one call runs at a
 * time (the records carry no call identity): everything between the previous reply and this one is this turn's.
 */
export function timelineOf(
  standins: ProviderStandins,
  turn: Turn,
  notBefore: number,
): TurnTimeline | undefined {
  const finals = standins.recorded.stt.flatMap((c) => c.finals);
  const final = finals
    .filter((f) => f.sentAt !== undefined && f.speechEndReceivedAt > notBefore && f.sentAt <= turn.heardAt)
    .at(-1);
  if (!final?.sentAt) return undefined;
  const llms = standins.recorded.llm.filter(
    (r) => r.stream && r.receivedAt.getTime() > notBefore && r.receivedAt.getTime() < turn.heardAt,
  );
  const llm = llms.filter((r) => r.firstTokenMs !== undefined).at(-1);
  const tts = speechRequests(standins)
    .filter((r) => r.receivedAt > notBefore && r.receivedAt + r.firstByteMs < turn.heardAt)
    .at(-1);
  if (!llm?.firstTokenMs || !tts?.firstByteMs) return undefined;
  const llmAt = llm.receivedAt.getTime();
  const llmFirst = llmAt + llm.firstTokenMs;
  const ttsAt = tts.receivedAt;
  const ttsFirst = ttsAt + tts.firstByteMs;
  return {
    voiceToVoice: turn.voiceToVoiceMs,
    uplink: final.speechEndReceivedAt - turn.speechEndedAt,
    stt: final.sentAt - final.speechEndReceivedAt,
    sttToLlm: llmAt - final.sentAt,
    llmTtft: llm.firstTokenMs,
    llmToTts: ttsAt - llmFirst,
    ttsTtfb: tts.firstByteMs,
    ttsToEar: turn.heardAt - ttsFirst,
    llmRequests: llms.length,
  };
}

/**
 * Speech requests that produced audio, whichever engine made them (/v1/audio/speech requests, Realtime API
 * responses), in arrival order: when each reached its stand-in and when its first audio left.
 */
export function speechRequests(
  standins: ProviderStandins,
): Array<{ receivedAt: number; firstByteMs: number }> {
  const speech = standins.recorded.tts
    .filter((r) => r.status === 200 && r.firstByteMs !== undefined)
    .map((r) => ({ receivedAt: r.receivedAt.getTime(), firstByteMs: r.firstByteMs ?? 0 }));
  const realtime = standins.recorded.realtime
    .flatMap((c) => c.responses)
    .filter((r) => r.firstAudioMs !== undefined)
    .map((r) => ({ receivedAt: r.receivedAt, firstByteMs: r.firstAudioMs ?? 0 }));
  return [...speech, ...realtime].sort((a, b) => a.receivedAt - b.receivedAt);
}

export interface SetupResult {
  calls: number;
  /** Token request → first greeting audio at the caller. */
  setupMs: Summary;
  /** Token request → response. */
  tokenMs: Summary;
  /**
   * Medians of the setup's parts, ms from the token request: token issued; caller connected and published;
   * agent's audio track subscribed (job accepted, process took it, agent joined); greeting TTS request at the
   * stand-in (session built, history loaded); greeting heard.
   */
  partsP50: {
    token: number;
    callerJoined: number;
    agentTrack: number;
    greetingTtsRequest: number;
    heard: number;
  };
  /** Calls that found a prewarmed job process waiting (the worker had refilled its idle pool). */
  warmCalls: number;
}

/**
 * Call setup: token request → first audible greeting, one call at a time. Between calls the worker gets (bounded)
 * time to refill its pool of prewarmed job processes, as it would between real calls.
 */
export async function runSetupBench(
  rig: Rig,
  options: { calls: number; log: (line: string) => void },
): Promise<SetupResult> {
  const users = await benchUsers(rig, options.calls);
  const setup: number[] = [];
  const token: number[] = [];
  const parts: Array<SetupResult['partsP50']> = [];
  let warm = 0;
  let jobs = countJobs(rig);
  for (const user of users) {
    const ready = await waitForIdlePool(rig, jobs, 90_000);
    if (ready) warm++;
    const call = new BenchCall();
    try {
      await call.open(rig, user);
      setup.push(call.setupMs);
      token.push(call.tokenIssuedAt - call.tokenRequestedAt);
      const t0 = call.tokenRequestedAt;
      const tts = speechRequests(rig.standins).find((r) => r.receivedAt > t0);
      parts.push({
        token: call.tokenIssuedAt - t0,
        callerJoined: call.joinedAt - t0,
        agentTrack: call.caller.agentTrackAt - t0,
        greetingTtsRequest: tts ? tts.receivedAt - t0 : Number.NaN,
        heard: call.setupMs,
      });
      options.log(
        `setup: greeting heard after ${call.setupMs} ms${ready ? '' : ' (idle pool not refilled)'}`,
      );
    } finally {
      await call.close();
    }
    jobs++;
    await sleep(500);
  }
  const p50 = (k: keyof SetupResult['partsP50']) =>
    summarize(parts.map((p) => p[k]).filter((v) => !Number.isNaN(v))).p50;
  return {
    calls: setup.length,
    setupMs: summarize(setup),
    tokenMs: summarize(token),
    partsP50: {
      token: p50('token'),
      callerJoined: p50('callerJoined'),
      agentTrack: p50('agentTrack'),
      greetingTtsRequest: p50('greetingTtsRequest'),
      heard: p50('heard'),
    },
    warmCalls: warm,
  };
}

/** Jobs the worker has been assigned so far (each job process logs "job assigned"). */
export function countJobs(rig: Rig): number {
  return rig.worker.log().match(/job assigned/g)?.length ?? 0;
}

/** True once every assigned job has been replaced by a new prewarmed process (bounded wait). */
export async function waitForIdlePool(rig: Rig, jobsSoFar: number, timeoutMs: number): Promise<boolean> {
  const target = rig.idleProcesses + jobsSoFar;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const prewarmed = rig.worker.log().match(/job process prewarmed/g)?.length ?? 0;
    if (prewarmed >= target) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}
