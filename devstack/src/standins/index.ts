import {
  type AnthropicStandin,
  type LlmFailure,
  type LlmRequestRecord,
  type LlmScript,
  startAnthropicStandin,
} from './anthropic.ts';
import { type SttConnectionRecord, startDeepgramStandin } from './deepgram.ts';
import type { SpeakConnectionRecord, SpeakFailure } from './deepgram-speak.ts';
import { realClock } from './model-calendar.ts';
import {
  type OpenAiRealtimeStandin,
  type RealtimeConnectionRecord,
  type RealtimeFailure,
  startOpenAiRealtimeStandin,
} from './openai-realtime.ts';
import {
  type OpenAiStandin,
  startOpenAiStandin,
  type TtsFailure,
  type TtsRequestRecord,
} from './openai-tts.ts';
import { FAST_PROFILE, type LatencyProfile } from './profile.ts';
import { DEFAULT_SPEECH_DETECTOR, type SpeechDetectorOptions } from './speech-detector.ts';
import { type SttScript, SttTranscriptSource } from './stt-script.ts';
import { type StandinTls, standinTls } from './tls.ts';

/**
 * Wire-compatible stand-ins for Deepgram (live STT), Anthropic (Messages) and OpenAI (speech) on 127.0.0.1:
 * test and benchmark equipment, and the keyless "simulated" mode (see simulated.ts). Production code never
 * imports this; the agent reaches the stand-ins only through base URLs and keys in its configuration.
 */

export type { LlmFailure, LlmReply, LlmRequestRecord, LlmScript, LlmToolUse } from './anthropic.ts';
export type { SttConnectionRecord } from './deepgram.ts';
export type { SpeakConnectionRecord, SpeakFailure } from './deepgram-speak.ts';
export type {
  RealtimeConnectionRecord,
  RealtimeFailure,
  RealtimeResponseRecord,
} from './openai-realtime.ts';
export type { TtsFailure, TtsRequestRecord } from './openai-tts.ts';
export { FAST_PROFILE, type LatencyProfile, REALISTIC_PROFILE } from './profile.ts';
export type { SpeechDetectorOptions } from './speech-detector.ts';
export type { SttScript, SttUtterance } from './stt-script.ts';

export interface StandinOptions {
  profile?: Partial<LatencyProfile>;
  host?: string;
  /**
   * The stand-ins' "today" from the start and after each reset() (YYYY-MM-DD; default: the real clock). Tests of an
   * engine whose models have a shutdown date pin a day before it, so they test the engine as it works until then.
   */
  calendarDate?: string;
}

export interface StandinConfiguration {
  /** Merged into the current profile. */
  profile?: Partial<LatencyProfile>;
  /** Replaces the STT script (ordered transcripts, or a function of the detected utterance). */
  sttScript?: SttScript;
  /** Merged into the speech detector settings for connections opened from now on. */
  sttSpeechDetector?: Partial<SpeechDetectorOptions>;
  /** Replaces the LLM script (ordered replies, or a function of the request). */
  llmScript?: LlmScript;
  /** Appended: failures for the next LLM requests, one each. */
  llmFailures?: LlmFailure[];
  /** Appended: failures for the next TTS requests, one each. */
  ttsFailures?: TtsFailure[];
  /** Minimum prompt-cache prefix in tokens for every model (default: per model, e.g. 1024 Sonnet 4.6, 4096 Haiku 4.5). */
  llmCacheMinTokens?: number;
  /** Appended: failures for the next Realtime API responses, one each. */
  realtimeFailures?: RealtimeFailure[];
  /** Every Realtime response fails this way from now on (null: back to normal). */
  realtimeOutage?: RealtimeFailure | null;
  /** Refuse new Realtime connections (503 at the upgrade) from now on, or accept them again. */
  realtimeRefuseConnections?: boolean;
  /**
   * The Realtime stand-in speaks (and transcribes) what this returns instead of the text it was asked to read
   * (undefined from the function: read verbatim; null: no rewording).
   */
  realtimeReword?: ((text: string) => string | undefined) | null;
  /** Appended: failures for the next Deepgram speech Flushes, one each. */
  speakFailures?: SpeakFailure[];
  /** Every Deepgram speech Flush fails this way from now on (null: back to normal). */
  speakOutage?: SpeakFailure | null;
  /**
   * The stand-ins' "today" (YYYY-MM-DD; null: the real clock): Anthropic answers 404 for a Claude model past its
   * shutdown date, OpenAI /v1/audio/speech and /v1/models refuse a speech model past its shutdown date.
   */
  calendarDate?: string | null;
}

export interface ProviderStandins {
  /** For `new deepgram.STT({ baseUrl, apiKey })`: the plugin appends `/v1/listen`. */
  deepgramUrl: string;
  /** For `new Anthropic({ baseURL, apiKey })` (or ANTHROPIC_BASE_URL): the SDK appends `/v1/messages`. */
  anthropicUrl: string;
  /** For `new openai.TTS({ baseURL, apiKey })` (or OPENAI_BASE_URL): ends in `/v1`. */
  openaiUrl: string;
  /**
   * The Realtime API stand-in as an OpenAI base URL (`https://127.0.0.1:P/v1`, OPENAI_REALTIME_BASE_URL): the
   * `openai` package's realtime client connects to `wss://…/v1/realtime`. It serves TLS with a certificate made at
   * start; clients trust it through {@link realtimeTls} (`ca`, or NODE_EXTRA_CA_CERTS=`caFile` for a process).
   */
  openaiRealtimeUrl: string;
  realtimeTls: { ca: string; caFile: string };
  /** What each stand-in received and answered, in arrival order (live arrays; cleared by reset()). */
  recorded: {
    stt: SttConnectionRecord[];
    llm: LlmRequestRecord[];
    tts: TtsRequestRecord[];
    /** Realtime API sessions, each with its responses. */
    realtime: RealtimeConnectionRecord[];
    /** Deepgram speech (`/v1/speak`) connections. */
    speak: SpeakConnectionRecord[];
  };
  /** Closes every open Realtime session from the server side (a dropped connection). */
  dropRealtimeConnections(): void;
  readonly profile: LatencyProfile;
  configure(configuration: StandinConfiguration): void;
  /** Back to the start-up profile, no scripts, no queued failures, empty records and prompt cache. */
  reset(): void;
  stop(): Promise<void>;
}

export async function startProviderStandins(options: StandinOptions = {}): Promise<ProviderStandins> {
  const host = options.host ?? '127.0.0.1';
  const initialProfile: LatencyProfile = { ...FAST_PROFILE, ...options.profile };
  let profile = { ...initialProfile };
  let speechDetector = { ...DEFAULT_SPEECH_DETECTOR };
  let realtime: {
    outage?: RealtimeFailure;
    refuseConnections?: boolean;
    reword?: (text: string) => string | undefined;
  } = {};
  let speakOutage: SpeakFailure | undefined;
  let calendarDate: string | undefined = options.calendarDate;
  const today = () => calendarDate ?? realClock();
  const transcripts = new SttTranscriptSource();

  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const tls: StandinTls = await standinTls(host);
    started.push(tls);
    const deepgram = await startDeepgramStandin(
      host,
      () => ({ profile, speechDetector, speakOutage }),
      transcripts,
    );
    started.push(deepgram);
    const anthropic: AnthropicStandin = await startAnthropicStandin(host, () => ({
      profile,
      today: today(),
    }));
    started.push(anthropic);
    const openai: OpenAiStandin = await startOpenAiStandin(host, () => ({ profile, today: today() }));
    started.push(openai);
    const openaiRealtime: OpenAiRealtimeStandin = await startOpenAiRealtimeStandin(host, tls, () => ({
      profile,
      ...realtime,
    }));
    started.push(openaiRealtime);

    return {
      deepgramUrl: deepgram.url,
      anthropicUrl: anthropic.url,
      openaiUrl: openai.url,
      openaiRealtimeUrl: openaiRealtime.url,
      realtimeTls: { ca: tls.cert, caFile: tls.certFile },
      recorded: {
        stt: deepgram.recorded,
        llm: anthropic.recorded,
        tts: openai.recorded,
        realtime: openaiRealtime.connections,
        speak: deepgram.speech,
      },
      dropRealtimeConnections: () => openaiRealtime.dropConnections(),
      get profile() {
        return { ...profile };
      },
      configure(configuration) {
        if (configuration.profile) profile = { ...profile, ...configuration.profile };
        if (configuration.sttScript) transcripts.set(configuration.sttScript);
        if (configuration.sttSpeechDetector)
          speechDetector = { ...speechDetector, ...configuration.sttSpeechDetector };
        if (configuration.llmScript) anthropic.setScript(configuration.llmScript);
        if (configuration.llmFailures) anthropic.queueFailures(configuration.llmFailures);
        if (configuration.ttsFailures) openai.queueFailures(configuration.ttsFailures);
        if (configuration.llmCacheMinTokens !== undefined)
          anthropic.cache.minCacheableTokens = configuration.llmCacheMinTokens;
        if (configuration.realtimeFailures) openaiRealtime.queueFailures(configuration.realtimeFailures);
        if (configuration.realtimeOutage !== undefined)
          realtime = { ...realtime, outage: configuration.realtimeOutage ?? undefined };
        if (configuration.realtimeRefuseConnections !== undefined)
          realtime = { ...realtime, refuseConnections: configuration.realtimeRefuseConnections };
        if (configuration.realtimeReword !== undefined)
          realtime = { ...realtime, reword: configuration.realtimeReword ?? undefined };
        if (configuration.speakFailures) deepgram.queueSpeakFailures(configuration.speakFailures);
        if (configuration.speakOutage !== undefined) speakOutage = configuration.speakOutage ?? undefined;
        if (configuration.calendarDate !== undefined) calendarDate = configuration.calendarDate ?? undefined;
      },
      reset() {
        profile = { ...initialProfile };
        speechDetector = { ...DEFAULT_SPEECH_DETECTOR };
        transcripts.reset();
        deepgram.reset();
        anthropic.reset();
        anthropic.cache.minCacheableTokens = undefined;
        openai.reset();
        openaiRealtime.reset();
        realtime = {};
        speakOutage = undefined;
        calendarDate = options.calendarDate;
      },
      async stop() {
        await Promise.all(started.map((s) => s.stop()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()));
    throw error;
  }
}
