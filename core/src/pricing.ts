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

/** OpenAI's character-billed speech models. */
export const TTS_PRICES: Readonly<Record<string, TtsPrice>> = {
  'tts-1': { perMChars: 15, source: OPENAI },
  'tts-1-hd': { perMChars: 30, source: OPENAI },
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
export function ttsPrice(model: string): TtsPrice | undefined {
  return TTS_PRICES[normalizeModelId(model)];
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
