import { inference, type llm, type tts, type VAD, voice } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import type { AgentConfig } from '@voice/core/config/agent';
import { buildClaudeLLM } from '../llm/claude-fallback.ts';
import { buildCallSpeech, type CallSpeech, type CallSpeechOptions } from './call-speech.ts';

export interface PipelineParts {
  stt: deepgram.STT;
  /** Claude (CLAUDE_MODEL), or the fallback adapter over it and CLAUDE_FALLBACK_MODEL. */
  llm: llm.LLM;
  /** The session's TTS (see CallSpeech.session). */
  tts: tts.TTS;
  speech: CallSpeech;
}

/**
 * The provider clients, pointed at the configured base URLs (real providers or the local stand-ins). Speech is one
 * set of engines per call (see buildCallSpeech), shared by the greeting and the session.
 */
export function buildProviders(config: AgentConfig, speechOptions: CallSpeechOptions): PipelineParts {
  const stt = new deepgram.STT({
    apiKey: config.deepgram.apiKey,
    model: config.deepgram.model as deepgram.STTModels,
    language: config.deepgram.language,
    interimResults: true,
    punctuate: true,
    smartFormat: false,
    // Deepgram's own endpointing only shapes its finals (each one starts preemptive generation); the turn is
    // decided by the end-of-turn model or VAD (turnHandling below). 0 turns it off (the plugin sends false).
    endpointing: config.deepgram.endpointingMs,
    ...(config.deepgram.baseUrl ? { baseUrl: config.deepgram.baseUrl } : {}),
  });
  const speech = buildCallSpeech(config, speechOptions);
  return { stt, llm: buildClaudeLLM(config), tts: speech.session, speech };
}

/**
 * The caller's audio as the job receives it from LiveKit (the session's room input options). Silero VAD and
 * Deepgram streaming both take 16 kHz mono; RoomIO's default is 24 kHz, which made the VAD and the STT stream each
 * run their own 24→16 kHz resampler over the FFI (a protobuf request per 10 ms frame each, ~14 % of a call's JS
 * thread in the profile). Asking rtc-node's AudioStream for 16 kHz resamples once, in Rust, where the Opus decoder
 * already runs.
 */
export const CALLER_AUDIO_INPUT = {
  audioSampleRate: 16_000,
  audioNumChannels: 1,
  // 20 ms frames instead of rtc-node's 10 ms (option added by patches/@livekit+agents): each frame is an FFI event,
  // a protobuf decode and a pass through the session's web streams (tee to VAD and STT, Deepgram's sender), which
  // made per-frame overhead the largest part of a call's JS thread (issue 16). Deepgram gets 20 ms messages anyway
  // and Silero reads 32 ms windows; the cost is up to 10 ms more before the last audio of a turn reaches them.
  audioFrameSizeMs: 20,
  // No remote session host (option added by patches/@livekit+agents): agents 1.9 sends every session event (each
  // interim transcript, state change, metrics update) to the caller as a byte stream on `lk.agent.session`, three
  // FFI requests each, ~3-5 % of a call's JS thread, and no client of ours reads them. It also answers the caller's
  // requests on that topic, among them the agent's instructions (our system prompt) and text turns that bypass
  // the microphone: nothing a caller should be able to ask for.
  sessionHost: false,
} as const;

/**
 * How the caller's turn ends. `model`: LiveKit's local audio end-of-turn model (turn-detector-v1-mini) hears the
 * last 1–2 s of the caller after 200 ms of VAD silence; when it judges the turn finished, the turn ends
 * `minEndpointingMs` after the speech, otherwise `maxEndpointingMs` (a pause mid-sentence, a list, an "um").
 * It runs in the worker's shared inference process (loaded once when the worker starts, offline: the weights are
 * inside @livekit/local-inference), never LiveKit Cloud: `version: 'v1-mini'` pins the local model. Outside a
 * job (no inference executor) its predictions default to "finished", i.e. plain VAD with the minimum delay.
 */
export function turnDetection(config: AgentConfig): 'vad' | inference.TurnDetector {
  if (config.turns.detection === 'vad') return 'vad';
  const threshold = config.turns.eotThreshold;
  return new inference.TurnDetector({
    version: 'v1-mini',
    ...(threshold === undefined ? {} : { unlikelyThreshold: threshold }),
  });
}

/**
 * What a reply takes from the start of its Claude request to its first audio when nothing is slow: Claude's first
 * token (~400 ms, the bench profile's and a typical Haiku/Sonnet figure) and the first sentence's speech (~200 ms).
 */
export const REPLY_LEAD_MS = 600;

/**
 * Deepgram gives a final at every pause of the caller's (endpointing 25 ms), and each final starts a preemptive
 * Claude request and its speech, thrown away when the caller goes on: ~1.45–1.5 Claude requests per answered turn
 * in the turns benchmark. With TURN_PREEMPTIVE=model and the option patches/@livekit+agents adds, a final's
 * preemptive request waits for the end-of-turn model's prediction of the pause: when the model hears a finished
 * thought it starts at once (the turn will end `minEndpointingMs` after the speech), otherwise only this long
 * into the pause, `REPLY_LEAD_MS` before the turn would end at `maxEndpointingMs`, so a turn the model misjudged
 * as unfinished still has its reply ready when it ends, and a pause shorter than this costs no request.
 * Measured (bench/README.md, "Preemptive requests per turn"): ~1.15 Claude requests per answered turn, each reply
 * starting after the model's inference (~55 ms after the final with EOT_PREDICTION_SILENCE_MS; ~170 ms before).
 */
export function preemptiveUnlikelyEndOfTurnDelay(config: AgentConfig): number {
  return Math.max(0, config.turns.maxEndpointingMs - REPLY_LEAD_MS);
}

/**
 * With the gate, the VAD silence (ms) at which the end-of-turn model is asked about a pause (upstream: 200).
 * Silero hears the end of speech ~140–160 ms late, so at 200 the prediction was asked ~340 ms after the speech
 * and came back ~400 ms after it, ~140 ms after Deepgram's final: every gated reply started that much later than
 * an eager one. At 100 it is asked about when the final arrives (~260 ms after the speech; the final asks too if
 * it comes first) and back ~55 ms later. The model then hears ~260 ms of trailing silence instead of ~340, nearer
 * the 200 it is calibrated for; the endpointing reads the same prediction (one per pause, as before).
 * Measured in bench/README.md ("Preemptive requests per turn").
 */
export const EOT_PREDICTION_SILENCE_MS = 100;

/**
 * The AgentSession for one call. Everything here runs without LiveKit Cloud: VAD is the prewarmed local Silero
 * model (passed explicitly: the default would be the cloud inference VAD), turn detection is the local
 * end-of-turn model or VAD (see turnDetection), and interruption detection is plain VAD (the adaptive mode calls
 * Cloud inference).
 */
export function buildAgentSession(opts: {
  config: AgentConfig;
  vad: VAD;
  providers: PipelineParts;
}): voice.AgentSession {
  const { config, vad, providers } = opts;
  return new voice.AgentSession({
    vad,
    stt: providers.stt,
    llm: providers.llm,
    tts: providers.tts,
    // Idle handling is ours (session/idle-watch); the framework marks the user "away" after this long.
    userAwayTimeout: config.idleTimeoutSeconds,
    // No echo cancellation warm-up gate: callers use headsets/phones with their own AEC, and the gate would swallow
    // a barge-in during the greeting.
    aecWarmupDuration: null,
    turnHandling: {
      turnDetection: turnDetection(config),
      endpointing: {
        mode: 'fixed',
        minDelay: config.turns.minEndpointingMs,
        maxDelay: config.turns.maxEndpointingMs,
      },
      interruption: interruptionOptions(config),
      // Start Claude, and speech synthesis, on the final transcript while the endpointing delay runs; discarded
      // (and still billed, which the usage meter counts) if the caller keeps talking. TURN_PREEMPTIVE=model
      // gates it on the end-of-turn model (see preemptiveUnlikelyEndOfTurnDelay), the default: ~20 % fewer Claude
      // requests (1.15 against 1.45 per answered turn in the turns benchmark) for a reply that waits for the
      // model's inference after the final (clean-question v2v p50 +40 ms against eager in the final run, ~40–70 ms
      // over the runs; within the 50 ms the choice allowed only at the edge). bench/README.md has the numbers.
      preemptiveGeneration: {
        enabled: true,
        preemptiveTts: true,
        ...(config.turns.detection === 'model' && config.turns.preemptive === 'model'
          ? {
              unlikelyEndOfTurnDelay: preemptiveUnlikelyEndOfTurnDelay(config),
              predictionSilence: EOT_PREDICTION_SILENCE_MS,
            }
          : {}),
      },
    },
    connOptions: {
      // Quick retries: a caller is waiting in silence. After these, the call speaks an apology and goes on.
      llmConnOptions: { maxRetry: 2, retryIntervalMs: 400, timeoutMs: 15_000 },
      // timeoutMs: each sentence's first audio (TTS_FIRST_AUDIO_TIMEOUT_MS); past it the next engine speaks.
      ttsConnOptions: { maxRetry: 2, retryIntervalMs: 300, timeoutMs: config.speech.firstAudioTimeoutMs },
      sttConnOptions: { maxRetry: 5, retryIntervalMs: 500, timeoutMs: 10_000 },
      maxUnrecoverableErrors: 5,
    },
  });
}

/**
 * Barge-in. Pause first (INTERRUPTION_RESUME_AFTER_MS > 0, patches/@livekit+agents): caller speech of minDuration
 * pauses the reply at once, its queued audio taken back so the caller hears it stop; once the caller's transcript
 * has minWords words the reply stops for good (a real interruption), and when the caller goes quiet short of them
 * (a backchannel: "mm-hm", "yeah", "okay"; a cough) it resumes where it paused, falseInterruptionTimeout after the
 * caller's speech ended. The words of a real interruption come only with the STT's interim results (every ~0.5-1
 * s), too late to stop the reply within 500 ms, while a pause needs only the VAD. Without the pause the reply plays
 * on until the words are there. Either way a turn shorter than minWords while the agent speaks is dropped, not
 * answered, and a one-word "stop" does not stop the reply; "stop, stop" or "wait, …" does.
 */
export function interruptionOptions(config: AgentConfig) {
  const resumeAfterMs = config.turns.interruptionResumeAfterMs;
  return {
    enabled: true,
    mode: 'vad',
    minDuration: config.turns.interruptionMinDurationMs,
    minWords: config.turns.interruptionMinWords,
    resumeFalseInterruption: resumeAfterMs > 0,
    ...(resumeAfterMs > 0 ? { falseInterruptionTimeout: resumeAfterMs } : {}),
  } as const;
}
