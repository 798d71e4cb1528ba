import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TokenResponse } from '@voice/core';
import { startTokenServiceProcess, type TokenServiceProcess } from '@voice/devstack/services/token-service';
import { type RunningStack, startStack } from '@voice/devstack/stack';
import { type SpeechClip, speechClip } from '@voice/devstack/standins/fixtures';
import {
  type LatencyProfile,
  type ProviderStandins,
  startProviderStandins,
} from '@voice/devstack/standins/index';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { type HeardSegment, sleep } from '../../e2e/src/agent-speech.ts';
import { type RunningAgentWorker, startAgentWorker } from '../../e2e/src/agent-worker.ts';
import {
  type CallerClip,
  ScriptedCaller,
  type ScriptedCallerOptions,
} from '../../e2e/src/scripted-caller.ts';

/**
 * The benchmark rig: the local stack (Postgres, PostgREST, auth, livekit-server), the provider stand-ins at the
 * benchmark profile, the token service as a process, and the real agent worker process. Callers are
 * @livekit/rtc-node participants in this process speaking espeak-ng clips over real WebRTC.
 */

/** The profile of issue 8: STT final 150 ms after end of speech, Claude TTFT 400 ms then unpaced tokens, TTS 200 ms. */
export const BENCH_PROFILE: LatencyProfile = {
  sttFinalMs: 150,
  llmTtftMs: 400,
  llmTokensPerSecond: 0,
  ttsTtfbMs: 200,
};
/** The latency the providers themselves add to every turn: what no pipeline can go below. */
export const FLOOR_MS = BENCH_PROFILE.sttFinalMs + BENCH_PROFILE.llmTtftMs + BENCH_PROFILE.ttsTtfbMs;

/**
 * The Deepgram stand-in calls the end of an utterance only after this much silence, and never sends the final
 * before it: at its default (500 ms) the final would come 500 ms after the end of speech whatever sttFinalMs says.
 * It must not exceed sttFinalMs, and the detector counts silence in whole 20 ms frames: 150 became 8 frames, so
 * every final went out 160 ms after the end of speech, 10 ms over the profile, and the benchmark counted those
 * 10 ms as the pipeline's. 140 ms (7 frames) lets the profile's 150 ms decide, and keeps each benchmark question
 * one utterance (checked per clip at start-up).
 */
export const STT_ENDPOINT_SILENCE_MS = 140;

export const QUESTIONS = [
  'What is the capital of France?',
  'How far away is the moon tonight?',
  'Can you recommend a good book to read?',
  'What should I cook for dinner this evening?',
  'How do airplanes stay up in the sky?',
  'Why is the sky blue during the day?',
];
/** One sentence: one TTS request per reply, so its audio length is known (underrun detection). */
export const REPLY = 'That is a good question and the answer depends on the details.';
export const GREETING = 'Hello there, I am listening.';

/** The stand-in scripts every call benchmark uses (standins.reset() clears them: configure again after it). */
export function benchStandinScripts() {
  return {
    profile: BENCH_PROFILE,
    // Also the endpoint floor for the agent's short Deepgram endpointing: the questions are fluent espeak-ng
    // speech (gaps under 140 ms), so the profile's 150 ms, not the floor, decides when the final goes out.
    sttSpeechDetector: { minSilenceMs: STT_ENDPOINT_SILENCE_MS, endpointingFloorMs: STT_ENDPOINT_SILENCE_MS },
    llmScript: () => REPLY,
  };
}

export interface Rig {
  stack: RunningStack;
  standins: ProviderStandins;
  tokens: TokenServiceProcess;
  worker: RunningAgentWorker;
  clips: SpeechClip[];
  logDir: string;
  /** Idle job processes the worker keeps warm. */
  idleProcesses: number;
  /** The callers' audio rate (the clips are synthesised at it); see ScriptedCallerOptions. */
  callerSampleRate: number;
  stop(): Promise<void>;
}

export interface RigOptions {
  idleProcesses?: number;
  /** Extra agent environment (the knobs the agent reads). */
  agentEnv?: Record<string, string>;
  /** The callers' audio rate, both ways (default 48 kHz). */
  callerSampleRate?: number;
  /** `taskset -c` CPU list for the agent worker and its job processes (density: a core of their own). */
  agentCpus?: string;
  log: (line: string) => void;
}

/**
 * The stack lives in its own directory, not a `devstack-*` temp dir: other suites on this machine clean those up
 * and took a running benchmark's database and logs with them. Removed again by `removeBenchStackDir`.
 */
export async function startStackForBench(): Promise<RunningStack> {
  const dir = path.join(os.tmpdir(), `voicecall-bench-${process.pid}`);
  return startStack({ handleSignals: true, dir, disposableData: true });
}

/** Removes the stack's data but keeps its logs (agent worker, token service, livekit) for reading afterwards. */
export function removeBenchStackDir(): string | undefined {
  const dir = path.join(os.tmpdir(), `voicecall-bench-${process.pid}`);
  const kept = path.join(os.tmpdir(), `voicecall-bench-logs-${process.pid}`);
  let logs: string | undefined;
  try {
    renameSync(path.join(dir, 'logs'), kept);
    logs = kept;
  } catch {
    // no logs
  }
  rmSync(dir, { recursive: true, force: true });
  return logs;
}

export async function startRig(stack: RunningStack, options: RigOptions): Promise<Rig> {
  const logDir = path.join(stack.info.logDir, `bench-${Date.now()}`);
  mkdirSync(logDir, { recursive: true });
  const agentName = `voice-agent-bench-${randomUUID().slice(0, 8)}`;
  const idleProcesses = options.idleProcesses ?? 2;
  const callerSampleRate = options.callerSampleRate ?? 48_000;
  const clips = await Promise.all(
    QUESTIONS.map((q) => speechClip(q, { sampleRate: callerSampleRate, trailSilenceMs: 800 })),
  );
  const standins = await startProviderStandins({ profile: BENCH_PROFILE });
  standins.configure(benchStandinScripts());
  let tokens: TokenServiceProcess | undefined;
  try {
    tokens = await startTokenServiceProcess(stack.info, logDir, {
      env: {
        LOG_LEVEL: 'warn',
        AGENT_NAME: agentName,
        VOICE_MAX_CONCURRENT_SESSIONS: '1000',
        VOICE_MAX_ISSUANCES_PER_MINUTE: '100000',
      },
    });
    options.log(`starting agent worker ${agentName} (${idleProcesses} idle job processes)`);
    const worker = await startAgentWorker(stack.info, standins, {
      agentName,
      readyTimeoutMs: 180_000,
      ...(options.agentCpus === undefined ? {} : { cpus: options.agentCpus }),
      env: {
        AGENT_GREETING: GREETING,
        AGENT_IDLE_PROCESSES: String(idleProcesses),
        ...options.agentEnv,
      },
    });
    const started = tokens;
    return {
      stack,
      standins,
      tokens: started,
      worker,
      clips,
      logDir,
      idleProcesses,
      callerSampleRate,
      async stop() {
        await worker.stop().catch(() => {});
        await started.stop().catch(() => {});
        await standins.stop().catch(() => {});
      },
    };
  } catch (error) {
    await tokens?.stop().catch(() => {});
    await standins.stop().catch(() => {});
    throw error;
  }
}

/** How many job processes the worker has finished prewarming so far (each logs once). */
export function prewarmedCount(rig: Rig): number {
  return rig.worker.log().match(/job process prewarmed/g)?.length ?? 0;
}

/** Waits (bounded) until `count` job processes have been prewarmed; false on time-out. */
export async function waitForPrewarmed(rig: Rig, count: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (prewarmedCount(rig) < count) {
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
  return true;
}

export interface BenchUser {
  accessToken: string;
}

export async function benchUsers(rig: Rig, count: number): Promise<BenchUser[]> {
  return Promise.all(Array.from({ length: count }, () => createTestUser(rig.stack.info, { tier: 'studio' })));
}

export async function requestToken(rig: Rig, user: BenchUser): Promise<TokenResponse> {
  const response = await fetch(`${rig.tokens.url}/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` },
    body: JSON.stringify({ participant_name: 'bench caller' }),
  });
  const json = (await response.json()) as TokenResponse;
  if (response.status !== 201)
    throw new Error(`token request failed: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export interface Turn {
  /** Caller's clock: its last voiced sample went out. */
  speechEndedAt: number;
  /** Caller's clock: first loud frame of the reply. */
  heardAt: number;
  /** First to last loud frame of the reply at the caller. */
  replySpanMs: number;
  voiceToVoiceMs: number;
}

export interface CallResult {
  grant: TokenResponse;
  tokenRequestedAt: number;
  /** Token request → first greeting audio at the caller. */
  setupMs: number;
  turns: Turn[];
  greetingSpanMs: number;
}

/**
 * What a benchmark call needs of its caller: the rtc-node ScriptedCaller (the default, shared with e2e), or the
 * density rig's Go caller (bench/src/go-caller.ts, `--rig go`).
 */
export interface BenchCaller {
  readonly frameMs: number;
  /** Speech not sent in time, 10 ms units. */
  readonly micDropouts: number;
  /** Delay of the caller's own scheduling (event loop, or the Go send loop), percentile in ns. */
  readonly loopDelay: { percentile(p: number): number };
  join(url: string, token: string): Promise<void>;
  speak(clip: CallerClip): Promise<number>;
  waitForSpeech(afterMs: number, timeoutMs?: number): Promise<HeardSegment>;
  waitForQuiet(quietMs?: number, timeoutMs?: number): Promise<void>;
  hangUp(): Promise<void>;
}

export class BenchCall<C extends BenchCaller = ScriptedCaller> {
  readonly caller: C;
  grant: TokenResponse | undefined;
  tokenRequestedAt = 0;
  tokenIssuedAt = 0;
  joinedAt = 0;
  greetingAt = 0;
  greetingSpanMs = 0;
  readonly turns: Turn[] = [];

  /** An rtc-node ScriptedCaller with `options`, or the caller given. */
  constructor(options: ScriptedCallerOptions = {}, caller?: C) {
    this.caller = caller ?? (new ScriptedCaller(options) as BenchCaller as C);
  }

  /** Token request → join → greeting heard, then the greeting finishes. */
  async open(rig: Rig, user: BenchUser, timeoutMs = 60_000): Promise<void> {
    this.tokenRequestedAt = Date.now();
    this.grant = await requestToken(rig, user);
    this.tokenIssuedAt = Date.now();
    await this.caller.join(this.grant.server_url, this.grant.participant_token);
    this.joinedAt = Date.now();
    const greeting = await this.caller.waitForSpeech(this.tokenRequestedAt, timeoutMs);
    this.greetingAt = greeting.startedAt;
    await this.caller.waitForQuiet(1_000, 30_000);
    this.greetingSpanMs = greeting.lastLoudAt - greeting.startedAt;
  }

  get setupMs(): number {
    return this.greetingAt - this.tokenRequestedAt;
  }

  /** Speaks one clip and waits for the whole reply. */
  async turn(clip: SpeechClip, timeoutMs = 20_000): Promise<Turn> {
    const speechEndedAt = await this.caller.speak(clip);
    const reply = await this.caller.waitForSpeech(speechEndedAt, timeoutMs);
    await this.caller.waitForQuiet(1_000, 30_000);
    const turn: Turn = {
      speechEndedAt,
      heardAt: reply.startedAt,
      replySpanMs: reply.lastLoudAt - reply.startedAt,
      voiceToVoiceMs: reply.startedAt - speechEndedAt,
    };
    this.turns.push(turn);
    return turn;
  }

  async close(): Promise<void> {
    await this.caller.hangUp().catch(() => {});
  }
}

/** The agent's own per-turn latency parts, from the message rows it wrote (seconds → ms). */
export interface AgentTurnMetrics {
  e2e?: number;
  sttFinal?: number;
  endOfTurn?: number;
  llmTtft?: number;
  ttsTtfb?: number;
}

/**
 * Reads the conversation's rows back (the agent writes them asynchronously): user rows carry sttFinal and
 * endOfTurn, assistant rows e2e, llmTtft and ttsTtfb. Returns one entry per answered turn (the greeting skipped).
 */
export async function agentTurnMetrics(
  rig: Rig,
  conversationId: string,
  turns: number,
  timeoutMs = 15_000,
): Promise<AgentTurnMetrics[]> {
  const db = serviceClient(rig.stack.info);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { data } = await db
      .from('messages')
      .select('role, metadata, created_at')
      .eq('conversation_id', conversationId)
      .order('created_at', { ascending: true });
    const rows = (data ?? []) as Array<{ role: string; metadata: { latency?: Record<string, number> } }>;
    const assistants = rows.filter((r) => r.role === 'assistant').length;
    if (assistants >= turns + 1 || Date.now() > deadline) {
      const out: AgentTurnMetrics[] = [];
      let pendingUser: Record<string, number> | undefined;
      let greetingSeen = false;
      for (const row of rows) {
        if (row.role === 'user') pendingUser = row.metadata?.latency ?? {};
        else if (!greetingSeen) greetingSeen = true;
        else {
          const ms = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 1000));
          const a = row.metadata?.latency ?? {};
          out.push({
            e2e: ms(a.e2e),
            llmTtft: ms(a.llmTtft),
            ttsTtfb: ms(a.ttsTtfb),
            sttFinal: ms(pendingUser?.sttFinal ?? a.sttFinal),
            endOfTurn: ms(pendingUser?.endOfTurn ?? a.endOfTurn),
          });
          pendingUser = undefined;
        }
      }
      return out;
    }
    await sleep(300);
  }
}
