import {
  type AnthropicStandin,
  type LlmFailure,
  type LlmRequestRecord,
  type LlmScript,
  startAnthropicStandin,
} from './anthropic.ts';
import { type SttConnectionRecord, startDeepgramStandin } from './deepgram.ts';
import {
  type OpenAiStandin,
  startOpenAiStandin,
  type TtsFailure,
  type TtsRequestRecord,
} from './openai-tts.ts';
import { FAST_PROFILE, type LatencyProfile } from './profile.ts';
import { DEFAULT_SPEECH_DETECTOR, type SpeechDetectorOptions } from './speech-detector.ts';
import { type SttScript, SttTranscriptSource } from './stt-script.ts';

/**
 * Wire-compatible stand-ins for Deepgram (live STT), Anthropic (Messages) and OpenAI (speech) on 127.0.0.1:
 * test and benchmark equipment, and the keyless "simulated" mode (see simulated.ts). Production code never
 * imports this; the agent reaches the stand-ins only through base URLs and keys in its configuration.
 */

export type { LlmFailure, LlmReply, LlmRequestRecord, LlmScript, LlmToolUse } from './anthropic.ts';
export type { SttConnectionRecord } from './deepgram.ts';
export type { TtsFailure, TtsRequestRecord } from './openai-tts.ts';
export { FAST_PROFILE, type LatencyProfile, REALISTIC_PROFILE } from './profile.ts';
export type { SpeechDetectorOptions } from './speech-detector.ts';
export type { SttScript, SttUtterance } from './stt-script.ts';

export interface StandinOptions {
  profile?: Partial<LatencyProfile>;
  host?: string;
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
}

export interface ProviderStandins {
  /** For `new deepgram.STT({ baseUrl, apiKey })`: the plugin appends `/v1/listen`. */
  deepgramUrl: string;
  /** For `new Anthropic({ baseURL, apiKey })` (or ANTHROPIC_BASE_URL): the SDK appends `/v1/messages`. */
  anthropicUrl: string;
  /** For `new openai.TTS({ baseURL, apiKey })` (or OPENAI_BASE_URL): ends in `/v1`. */
  openaiUrl: string;
  /** What each stand-in received and answered, in arrival order (live arrays; cleared by reset()). */
  recorded: { stt: SttConnectionRecord[]; llm: LlmRequestRecord[]; tts: TtsRequestRecord[] };
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
  const transcripts = new SttTranscriptSource();

  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    const deepgram = await startDeepgramStandin(host, () => ({ profile, speechDetector }), transcripts);
    started.push(deepgram);
    const anthropic: AnthropicStandin = await startAnthropicStandin(host, () => ({ profile }));
    started.push(anthropic);
    const openai: OpenAiStandin = await startOpenAiStandin(host, () => ({ profile }));
    started.push(openai);

    return {
      deepgramUrl: deepgram.url,
      anthropicUrl: anthropic.url,
      openaiUrl: openai.url,
      recorded: { stt: deepgram.recorded, llm: anthropic.recorded, tts: openai.recorded },
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
      },
      reset() {
        profile = { ...initialProfile };
        speechDetector = { ...DEFAULT_SPEECH_DETECTOR };
        transcripts.reset();
        deepgram.reset();
        anthropic.reset();
        anthropic.cache.minCacheableTokens = undefined;
        openai.reset();
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
