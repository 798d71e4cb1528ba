import type { SpeechProvider } from '@voice/core/config/agent';
import type { RealtimeSpeechTokens } from '@voice/core/pricing';

/**
 * One request a speech engine made (a sentence, the greeting, a recovery check), as its provider bills it:
 * characters of text for Deepgram and /v1/audio/speech, tokens from `response.done` for the Realtime API.
 * Engines report it themselves, once per request, so usage is recorded per engine actually used and nothing
 * depends on the framework's metrics (which report adapter-wrapped requests twice).
 */
export interface SpeechUsage {
  provider: SpeechProvider;
  model: string;
  characters: number;
  tokens?: RealtimeSpeechTokens;
}

/** A sentence an engine finished speaking: the text it was given, and whether what it said differs from it. */
export interface SpokenSentence {
  provider: SpeechProvider;
  text: string;
  /** The engine's own transcript of its audio differs from the text (only engines that report one). */
  transcriptMismatch: boolean;
}

/** Where speech engines report (the call's usage meter and turn bookkeeping). */
export interface SpeechObserver {
  usage(usage: SpeechUsage): void;
  spoken(sentence: SpokenSentence): void;
}

/** An observer that drops everything (tests, or an engine used outside a call). */
export const IGNORE_SPEECH: SpeechObserver = { usage: () => undefined, spoken: () => undefined };
