/**
 * Provider prices used to estimate what a voice call cost. Estimates, not invoices: the providers' bills are the
 * truth. Every entry names where its numbers come from and when they were read; re-check them when a provider
 * changes prices or a model is added (an unknown model is reported as unpriced, never guessed).
 */

import { calendarKey, type ModelRole } from './model-calendar.ts';

export interface PriceSource {
  url: string;
  /** When the numbers were read from `url` (YYYY-MM-DD). */
  checked: string;
  /** Where the number did not come from the provider's own page, or applies with a condition. */
  note?: string;
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
  url: 'https://platform.claude.com/docs/en/about-claude/pricing',
  checked: '2026-12-05',
};
const OPENAI_TTS: PriceSource = {
  url: 'https://platform.openai.com/docs/pricing',
  checked: '2026-12-05',
  note: 'per 1M characters; shut down 2027-01-06 with the whole /v1/audio/speech model line (model-calendar.ts)',
};

/** Claude's standard 5-minute cache write is 1.25 × input and a cache hit 0.1 × input, unless noted. */
function claude(input: number, output: number, cacheRead = input * 0.1, note?: string): LlmPrice {
  return {
    inputPerMTok: input,
    outputPerMTok: output,
    cacheWritePerMTok: input * 1.25,
    cacheReadPerMTok: cacheRead,
    source: note ? { ...ANTHROPIC, note } : ANTHROPIC,
  };
}

/**
 * Claude models the calendar (model-calendar.ts) lists as served. Retired ones are not priced: they cannot be
 * configured (the agent refuses them at start), and a model without a price refuses too.
 */
export const LLM_PRICES: Readonly<Record<string, LlmPrice>> = {
  'claude-haiku-4-5': claude(1, 5),
  // Haiku 5.5 is priced by prompt length: up to 100k prompt tokens (a voice call's prompt is far below: history is
  // capped by AGENT_HISTORY_MESSAGES) $0.10 / $0.50, cache hits 0.1 ×; above, every token of the request costs 5 ×.
  'claude-haiku-5-5': claude(0.1, 0.5, 0.01, 'the rate for prompts up to 100k tokens; longer ones cost 5x'),
  'claude-sonnet-4-6': claude(3, 15),
  'claude-sonnet-5': claude(2, 10),
  // Sonnet 5.5 cache hits were cut from 0.1 × to 0.05 × input on 2026-10-07.
  'claude-sonnet-5-5': claude(2, 10, 0.1),
  'claude-opus-4-5': claude(5, 25),
  'claude-opus-4-6': claude(5, 25),
  'claude-opus-4-7': claude(5, 25),
  'claude-opus-4-8': claude(5, 25),
  'claude-opus-5': claude(5, 25),
  // Opus 5.5: cache hits are 0.05 × input.
  'claude-opus-5-5': claude(4, 20, 0.2),
};

/**
 * Deepgram pay-as-you-go streaming prices (English, monolingual). The previous $0.0077 / min for nova-3 overstated
 * streaming by 60 %: two listings verified against deepgram.com/pricing (2026-05-05 and 2026-08-01) give $0.0048
 * streaming and $0.0043 pre-recorded (multilingual $0.0058 streaming). deepgram.com itself is not reachable from
 * here: re-check there. nova-2 is no longer listed with a price we could confirm, so it is not configurable.
 */
export const STT_PRICES: Readonly<Record<string, SttPrice>> = {
  'nova-3': {
    perMinute: 0.0048,
    source: {
      url: 'https://deepgram.com/pricing',
      checked: '2026-12-05',
      note: 'read through listings that cite deepgram.com/pricing (hail-hq/hail costs/stt.json, verified 2026-05-05)',
    },
  },
};

/**
 * Deepgram Aura speech, pay-as-you-go, per character. Aura-1 ($0.015 / 1k characters) is confirmed by Cloudflare's
 * pass-through price list; Aura-2 ($0.030 / 1k) is Deepgram's published rate as known here, not re-read from
 * deepgram.com (unreachable from this machine): re-check it.
 */
const DEEPGRAM_AURA: PriceSource = {
  url: 'https://deepgram.com/pricing',
  checked: '2026-12-05',
  note: 'aura-1 confirmed via developers.cloudflare.com/workers-ai/platform/pricing; aura-2 not re-read',
};

/**
 * Character-billed speech models: OpenAI /v1/audio/speech, and Deepgram Aura by family (see ttsPriceKey).
 * gpt-4o-mini-tts is billed by tokens, which the openai-speech engine does not count: it has no price here, so it
 * cannot be configured (and it shuts down on 2027-01-06 anyway).
 */
export const TTS_PRICES: Readonly<Record<string, TtsPrice>> = {
  'tts-1': { perMChars: 15, source: OPENAI_TTS },
  'tts-1-hd': { perMChars: 30, source: OPENAI_TTS },
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
      checked: '2026-12-04',
    },
  },
};

/**
 * Dated snapshot ids (`claude-haiku-4-5-20251001`) and aliases share the family's price: strip a trailing
 * `-YYYYMMDD` and `-latest` before looking up.
 */
export function normalizeModelId(model: string): string {
  return calendarKey(model, 'llm');
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
  return calendarKey(model, 'deepgram-speech');
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

/** Whether a configured model has a price for what it is used as (a model without one refuses to start). */
export function hasPrice(model: string, role: ModelRole): boolean {
  switch (role) {
    case 'llm':
      return llmPrice(model) !== undefined;
    case 'stt':
      return sttPrice(model) !== undefined;
    case 'openai-speech':
    case 'deepgram-speech':
      return ttsPrice(model) !== undefined;
    case 'openai-realtime':
      return realtimeSpeechPrice(model) !== undefined;
  }
}
