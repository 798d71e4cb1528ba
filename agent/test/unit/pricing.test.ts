import {
  LLM_PRICES,
  llmCost,
  normalizeModelId,
  roundUsd,
  STT_PRICES,
  sttCost,
  TTS_PRICES,
  ttsCost,
} from '@voice/core/pricing';
import { describe, expect, it } from 'vitest';

describe('pricing table', () => {
  it('documents a source URL and a check date for every entry', () => {
    for (const table of [LLM_PRICES, STT_PRICES, TTS_PRICES]) {
      for (const [model, price] of Object.entries(table)) {
        expect(price.source.url, model).toMatch(/^https:\/\//);
        expect(price.source.checked, model).toMatch(/^\d{4}-\d{2}$/);
      }
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
    expect(normalizeModelId('claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5');
    expect(
      llmCost('claude-sonnet-4-5-20250929', {
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
  });

  it('prices STT per streamed minute and TTS per character', () => {
    expect(sttCost('nova-3', 120)).toBeCloseTo(2 * 0.0077, 12);
    expect(ttsCost('tts-1', 1000)).toBeCloseTo(0.015, 12);
    expect(ttsCost('tts-1-hd', 1000)).toBeCloseTo(0.03, 12);
  });

  it('rounds to the 6 decimals the database keeps', () => {
    expect(roundUsd(0.0000014)).toBe(0.000001);
    expect(roundUsd(0.0000016)).toBe(0.000002);
  });
});
