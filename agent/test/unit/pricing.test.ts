import { MODEL_CALENDAR } from '@voice/core/model-calendar';
import {
  hasPrice,
  LLM_PRICES,
  llmCost,
  normalizeModelId,
  REALTIME_SPEECH_PRICES,
  roundUsd,
  STT_PRICES,
  sttCost,
  TTS_PRICES,
  ttsCost,
} from '@voice/core/pricing';
import { describe, expect, it } from 'vitest';

describe('pricing table', () => {
  it('documents a source URL and a check date for every entry', () => {
    for (const table of [LLM_PRICES, STT_PRICES, TTS_PRICES, REALTIME_SPEECH_PRICES]) {
      for (const [model, price] of Object.entries(table)) {
        expect(price.source.url, model).toMatch(/^https:\/\//);
        expect(price.source.checked, model).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
    }
  });

  it('is keyed by the calendar: every price is a model the calendar knows, and no retired model keeps one', () => {
    const ids = (role: string) => MODEL_CALENDAR.filter((e) => e.role === role).map((e) => e.id);
    expect(ids('llm')).toEqual(expect.arrayContaining(Object.keys(LLM_PRICES)));
    expect(ids('stt')).toEqual(expect.arrayContaining(Object.keys(STT_PRICES)));
    expect(ids('openai-realtime')).toEqual(expect.arrayContaining(Object.keys(REALTIME_SPEECH_PRICES)));
    expect([...ids('openai-speech'), ...ids('deepgram-speech')]).toEqual(
      expect.arrayContaining(Object.keys(TTS_PRICES)),
    );
    const today = '2026-12-05';
    for (const entry of MODEL_CALENDAR) {
      const served = !entry.shutdown || entry.shutdown > today;
      // gpt-4o-mini-tts is token-billed and the openai-speech engine counts characters: deliberately unpriced.
      if (entry.id === 'gpt-4o-mini-tts') continue;
      expect(hasPrice(entry.id, entry.role), entry.id).toBe(served);
    }
  });

  it('prices Claude tokens per kind (uncached input, output, cache read, cache write)', () => {
    // claude-haiku-4-5: $1 in, $5 out, $0.10 cache read, $1.25 cache write per million tokens.
    const usd = llmCost('claude-haiku-4-5', {
      inputTokens: 1_000_000,
      outputTokens: 100_000,
      cacheReadTokens: 2_000_000,
      cacheCreationTokens: 400_000,
    });
    expect(usd).toBeCloseTo(1 + 0.5 + 0.2 + 0.5, 10);
  });

  it('treats dated snapshots like their family and leaves unknown models unpriced', () => {
    expect(normalizeModelId('claude-haiku-4-5-20251001')).toBe('claude-haiku-4-5');
    expect(
      llmCost('claude-sonnet-4-6-latest', {
        inputTokens: 1e6,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheCreationTokens: 0,
      }),
    ).toBe(3);
    expect(
      llmCost('gpt-unknown', { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 }),
    ).toBeUndefined();
    expect(ttsCost('gpt-4o-mini-tts', 100)).toBeUndefined();
    // Retired models have no price any more (the agent refuses them before a call could be billed).
    expect(
      llmCost('claude-sonnet-4-5', {
        inputTokens: 1,
        outputTokens: 1,
        cacheReadTokens: 0,
        cacheCreationTokens: 0,
      }),
    ).toBeUndefined();
  });

  it('prices the current Claude generation at its own cache rates', () => {
    const usage = { inputTokens: 1e6, outputTokens: 1e6, cacheReadTokens: 1e6, cacheCreationTokens: 1e6 };
    expect(llmCost('claude-opus-5-5', usage)).toBeCloseTo(4 + 20 + 0.2 + 5, 10);
    expect(llmCost('claude-sonnet-5-5', usage)).toBeCloseTo(2 + 10 + 0.1 + 2.5, 10);
    expect(llmCost('claude-haiku-5-5', usage)).toBeCloseTo(0.1 + 0.5 + 0.01 + 0.125, 10);
  });

  it('prices STT per streamed minute and TTS per character', () => {
    // Deepgram's streaming rate for nova-3 (pay as you go), not the pre-recorded one the table had before.
    expect(sttCost('nova-3', 120)).toBeCloseTo(2 * 0.0048, 12);
    expect(ttsCost('tts-1', 1000)).toBeCloseTo(0.015, 12);
    expect(ttsCost('tts-1-hd', 1000)).toBeCloseTo(0.03, 12);
  });

  it('rounds to the 6 decimals the database keeps', () => {
    expect(roundUsd(0.0000014)).toBe(0.000001);
    expect(roundUsd(0.0000016)).toBe(0.000002);
  });
});
