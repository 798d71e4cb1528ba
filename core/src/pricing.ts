/**
 * Provider prices used to estimate what a voice call cost. Estimates, not invoices: the providers' bills are the
 * truth. Every entry names where its numbers come from and when they were read; re-check them when a provider
 * changes prices or a model is added (an unknown model is reported as unpriced, never guessed).
 */

export interface PriceSource {
  url: string;
  /** When the numbers were read from `url` (YYYY-MM). */
  checked: string;
}

/** USD per million tokens. Anthropic bills uncached input, cache writes (5-minute TTL) and cache reads apart. */
export interface LlmPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  cacheWritePerMTok: number;
  cacheReadPerMTok: number;
  source: PriceSource;
}
/** USD per minute of streamed audio. */
export interface SttPrice {
  perMinute: number;
  source: PriceSource;
}
/** USD per million input characters. */
export interface TtsPrice {
  perMChars: number;
  source: PriceSource;
}
/**
 * USD per million tokens of a Realtime API model used as a speech engine: each response bills the text it was
 * given (input text tokens, cached ones cheaper), the audio it produced (output audio tokens) and that audio's
 * transcript (output text tokens), as `response.done` reports them.
 */
export interface RealtimeSpeechPrice {
  textInputPerMTok: number;
  cachedTextInputPerMTok: number;
  audioInputPerMTok: number;
  textOutputPerMTok: number;
  audioOutputPerMTok: number;
  source: PriceSource;
}

const ANTHROPIC: PriceSource = {
  url: 'https://docs.claude.com/en/docs/about-claude/pricing',
  checked: '2025-11',
};
const DEEPGRAM: PriceSource = { url: 'https://deepgram.com/pricing', checked: '2025-11' };
const OPENAI: PriceSource = { url: 'https://platform.openai.com/docs/pricing', checked: '2025-11' };

export const LLM_PRICES: Readonly<Record<string, LlmPrice>> = {
  'claude-haiku-4-5': {
    inputPerMTok: 1,
    outputPerMTok: 5,
    cacheWritePerMTok: 1.25,
    cacheReadPerMTok: 0.1,
    source: ANTHROPIC,
  },
  'claude-sonnet-4-5': {
    inputPerMTok: 3,
    outputPerMTok: 15,
    cacheWritePerMTok: 3.75,
    cacheReadPerMTok: 0.3,
    source: ANTHROPIC,
  },
  'claude-sonnet-4': {
    inputPerMTok: 3,
    outputPerMTok: 15,
    cacheWritePerMTok: 3.75,
    cacheReadPerMTok: 0.3,
    source: ANTHROPIC,
  },
  'claude-opus-4-5': {
    inputPerMTok: 5,
    outputPerMTok: 25,
    cacheWritePerMTok: 6.25,
    cacheReadPerMTok: 0.5,
    source: ANTHROPIC,
  },
  'claude-opus-4-1': {
    inputPerMTok: 15,
    outputPerMTok: 75,
    cacheWritePerMTok: 18.75,
    cacheReadPerMTok: 1.5,
    source: ANTHROPIC,
  },
};

/** Deepgram pay-as-you-go streaming prices (English/monolingual). */
export const STT_PRICES: Readonly<Record<string, SttPrice>> = {
  'nova-3': { perMinute: 0.0077, source: DEEPGRAM },
  'nova-2': { perMinute: 0.0058, source: DEEPGRAM },
};

/**
 * Deepgram Aura speech, pay-as-you-go, per character. Aura-1 ($0.015 / 1k characters) was confirmed on a
 * reseller's pass-through price list (aigateway.sh, 2026-12); Aura-2 ($0.030 / 1k) is Deepgram's published rate
 * as known here, not re-read from deepgram.com (unreachable from this machine): re-check it.
 */
const DEEPGRAM_AURA: PriceSource = { url: 'https://deepgram.com/pricing', checked: '2026-12' };

/** Character-billed speech models: OpenAI /v1/audio/speech, and Deepgram Aura by family (see ttsPriceKey). */
export const TTS_PRICES: Readonly<Record<string, TtsPrice>> = {
  'tts-1': { perMChars: 15, source: OPENAI },
  'tts-1-hd': { perMChars: 30, source: OPENAI },
  'aura-2': { perMChars: 30, source: DEEPGRAM_AURA },
  'aura-1': { perMChars: 15, source: DEEPGRAM_AURA },
};

/** Realtime API models used as speech engines (token-billed). */
export const REALTIME_SPEECH_PRICES: Readonly<Record<string, RealtimeSpeechPrice>> = {
  // developers.openai.com/api/docs/models/gpt-realtime-2.1-mini, read 2026-12-04: text in $0.60 (cached $0.06),
  // text out $2.40, audio in $10.00, audio out $20.00 per 1M tokens.
  'gpt-realtime-2.1-mini': {
    textInputPerMTok: 0.6,
    cachedTextInputPerMTok: 0.06,
    audioInputPerMTok: 10,
    textOutputPerMTok: 2.4,
    audioOutputPerMTok: 20,
    source: {
      url: 'https://developers.openai.com/api/docs/models/gpt-realtime-2.1-mini',
      checked: '2026-12',
    },
  },
};

/**
 * Dated snapshot ids (`claude-haiku-4-5-20251001`) and aliases share the family's price: strip a trailing
 * `-YYYYMMDD` and `-latest` before looking up.
 */
export function normalizeModelId(model: string): string {
  return model
    .trim()
    .toLowerCase()
    .replace(/-(\d{8}|latest)$/, '');
}

export function llmPrice(model: string): LlmPrice | undefined {
  return LLM_PRICES[normalizeModelId(model)];
}
export function sttPrice(model: string): SttPrice | undefined {
  return STT_PRICES[normalizeModelId(model)];
}
/**
 * The TTS_PRICES key of a speech model: Deepgram prices a voice by its family (`aura-2-thalia-en` → `aura-2`,
 * `aura-asteria-en` → `aura-1`); other ids as normalizeModelId gives them.
 */
export function ttsPriceKey(model: string): string {
  const id = normalizeModelId(model);
  if (/^aura-2-/.test(id)) return 'aura-2';
  if (/^aura-[a-z]+-[a-z]{2}$/.test(id)) return 'aura-1';
  return id;
}

export function ttsPrice(model: string): TtsPrice | undefined {
  return TTS_PRICES[ttsPriceKey(model)];
}

export function realtimeSpeechPrice(model: string): RealtimeSpeechPrice | undefined {
  return REALTIME_SPEECH_PRICES[normalizeModelId(model)];
}

/** Tokens of Realtime API speech responses, as `response.done` usage reports them. */
export interface RealtimeSpeechTokens {
  /** Text input tokens, cached ones included. */
  textInputTokens: number;
  cachedTextInputTokens: number;
  audioInputTokens: number;
  textOutputTokens: number;
  audioOutputTokens: number;
}

/** USD for Realtime speech tokens, or undefined when the model has no price. */
export function realtimeSpeechCost(model: string, tokens: RealtimeSpeechTokens): number | undefined {
  const p = realtimeSpeechPrice(model);
  if (!p) return undefined;
  const uncachedText = Math.max(0, tokens.textInputTokens - tokens.cachedTextInputTokens);
  return (
    (uncachedText * p.textInputPerMTok +
      tokens.cachedTextInputTokens * p.cachedTextInputPerMTok +
      tokens.audioInputTokens * p.audioInputPerMTok +
      tokens.textOutputTokens * p.textOutputPerMTok +
      tokens.audioOutputTokens * p.audioOutputPerMTok) /
    1_000_000
  );
}

export interface LlmTokenUsage {
  /** Input tokens billed at the normal rate (not read from or written to the cache). */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
}

/** USD for a model's token usage, or undefined when the model has no price. */
export function llmCost(model: string, usage: LlmTokenUsage): number | undefined {
  const p = llmPrice(model);
  if (!p) return undefined;
  return (
    (usage.inputTokens * p.inputPerMTok +
      usage.outputTokens * p.outputPerMTok +
      usage.cacheReadTokens * p.cacheReadPerMTok +
      usage.cacheCreationTokens * p.cacheWritePerMTok) /
    1_000_000
  );
}

/** USD for streamed audio seconds. */
export function sttCost(model: string, audioSeconds: number): number | undefined {
  const p = sttPrice(model);
  return p ? (audioSeconds / 60) * p.perMinute : undefined;
}

/** USD for synthesized characters. */
export function ttsCost(model: string, characters: number): number | undefined {
  const p = ttsPrice(model);
  return p ? (characters * p.perMChars) / 1_000_000 : undefined;
}

/** Round to the 6 decimals `usage_logs.estimated_cost numeric(12,6)` keeps. */
export function roundUsd(value: number): number {
  return Math.round(value * 1_000_000) / 1_000_000;
}
