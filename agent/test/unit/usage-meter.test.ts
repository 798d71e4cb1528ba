import type { metrics } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { SttAudioMeter } from '../../src/usage/stt-audio-meter.ts';
import { UsageMeter } from '../../src/usage/usage-meter.ts';
import { toSessionTotals, toUsageLogRow } from '../../src/usage/usage-rows.ts';

const MODELS = { stt: 'nova-3', llm: 'claude-haiku-4-5' };

function ttsMetrics(chars: number, streamed: boolean): metrics.TTSMetrics {
  return {
    type: 'tts_metrics',
    label: 'openai.TTS',
    requestId: 'r',
    timestamp: 0,
    ttfbMs: 10,
    durationMs: 20,
    audioDurationMs: 1000,
    cancelled: false,
    charactersCount: chars,
    streamed,
  };
}

const realtimeTokens = (textIn: number, audioOut: number, textOut: number) => ({
  textInputTokens: textIn,
  cachedTextInputTokens: 0,
  audioInputTokens: 0,
  textOutputTokens: textOut,
  audioOutputTokens: audioOut,
});

function llmMetrics(prompt: number, cached: number, created: number, completion: number): metrics.LLMMetrics {
  return {
    type: 'llm_metrics',
    label: 'anthropic.ClaudeLLM',
    requestId: 'm',
    timestamp: 0,
    durationMs: 100,
    ttftMs: 50,
    cancelled: false,
    completionTokens: completion,
    promptTokens: prompt,
    promptCachedTokens: cached,
    cacheCreationTokens: created,
    totalTokens: prompt + completion,
    tokensPerSecond: 0,
  };
}

describe('usage meter', () => {
  it('bills speech from what the engines report, never from the framework metrics (which double-count)', () => {
    const meter = new UsageMeter(MODELS);
    meter.onMetrics(ttsMetrics(20, false));
    meter.onMetrics(ttsMetrics(20, true));
    meter.addSpeech({ provider: 'openai-speech', model: 'tts-1', characters: 20 });
    expect(meter.snapshot().tts).toMatchObject({ characters: 20, requests: 1 });
  });

  it('records usage per engine actually used and prices each by its own unit (tokens or characters)', () => {
    const meter = new UsageMeter(MODELS);
    meter.addSpeech({
      provider: 'openai-realtime',
      model: 'gpt-realtime-2.1-mini',
      characters: 30,
      tokens: realtimeTokens(40, 100, 8),
    });
    meter.addSpeech({
      provider: 'openai-realtime',
      model: 'gpt-realtime-2.1-mini',
      characters: 10,
      tokens: realtimeTokens(30, 50, 3),
    });
    meter.addSpeech({ provider: 'deepgram', model: 'aura-2-thalia-en', characters: 1000 });
    const s = meter.snapshot();
    expect(s.tts.requests).toBe(3);
    expect(s.tts.characters).toBe(1040);
    const [realtime, deepgram] = s.tts.engines;
    expect(realtime).toMatchObject({
      provider: 'openai-realtime',
      requests: 2,
      tokens: { textInputTokens: 70, audioOutputTokens: 150, textOutputTokens: 11 },
    });
    // gpt-realtime-2.1-mini: text in $0.60, audio out $20, text out $2.40 per 1M tokens.
    expect(realtime?.cost).toBeCloseTo((70 * 0.6 + 150 * 20 + 11 * 2.4) / 1e6, 6);
    // Aura-2: $0.030 per 1k characters.
    expect(deepgram).toMatchObject({ provider: 'deepgram', requests: 1, characters: 1000 });
    expect(deepgram?.cost).toBeCloseTo(0.03, 6);
    expect(s.tts.cost).toBeCloseTo((realtime?.cost ?? 0) + 0.03, 6);
    expect(s.unpriced).toEqual([]);
  });

  it('splits Claude input into uncached, cache-read and cache-write tokens and prices each', () => {
    const meter = new UsageMeter(MODELS);
    meter.onMetrics(llmMetrics(3000, 2000, 500, 100));
    meter.onMetrics(llmMetrics(3200, 2500, 0, 50));
    const s = meter.snapshot();
    expect(s.llm).toMatchObject({
      requests: 2,
      inputTokens: 500 + 700,
      cacheReadTokens: 4500,
      cacheCreationTokens: 500,
      outputTokens: 150,
    });
    expect(s.tokensUsed).toBe(1200 + 4500 + 500 + 150);
    const expected = (1200 * 1 + 150 * 5 + 4500 * 0.1 + 500 * 1.25) / 1e6;
    expect(s.llm.cost).toBeCloseTo(expected, 6);
  });

  it("bills Claude per model that answered, skipping the fallback adapter's repeat of the same tokens", () => {
    const meter = new UsageMeter(MODELS);
    const of = (label: string, model: string, prompt: number, completion: number) => ({
      ...llmMetrics(prompt, 0, 0, completion),
      label,
      metadata: { modelProvider: 'anthropic', modelName: model },
    });
    meter.onMetrics(of('anthropic.ClaudeLLM', 'claude-opus-4-5', 0, 0)); // the primary's 404: nothing billed
    meter.onMetrics(of('anthropic.ClaudeLLM', 'claude-sonnet-4-6', 1000, 100));
    meter.onMetrics(of('FallbackAdapter', 'FallbackAdapter', 1000, 100));
    meter.onMetrics(of('anthropic.ClaudeLLM', 'claude-haiku-4-5', 500, 50));
    const s = meter.snapshot();
    expect(s.llm.models.map((m) => [m.model, m.requests, m.inputTokens, m.outputTokens])).toEqual([
      ['claude-sonnet-4-6', 1, 1000, 100],
      ['claude-haiku-4-5', 1, 500, 50],
    ]);
    expect(s.llm).toMatchObject({
      model: 'claude-haiku-4-5',
      requests: 2,
      inputTokens: 1500,
      outputTokens: 150,
    });
    const sonnet = (1000 * 3 + 100 * 15) / 1e6;
    const haiku = (500 * 1 + 50 * 5) / 1e6;
    expect(s.llm.cost).toBeCloseTo(sonnet + haiku, 6);
    expect(s.unpriced).toEqual([]);
  });

  it('sums the parts into the estimated cost and flags unpriced models', () => {
    const meter = new UsageMeter(MODELS);
    meter.addSttAudio(60);
    meter.addSpeech({ provider: 'openai-speech', model: 'some-new-tts', characters: 1000 });
    const s = meter.snapshot();
    expect(s.stt.cost).toBeCloseTo(0.0048, 6);
    expect(s.tts.cost).toBeNull();
    expect(s.unpriced).toEqual(['tts:some-new-tts']);
    expect(s.estimatedCost).toBeCloseTo(0.0048, 6);
  });

  it('builds one usage_logs row per session with the breakdown, and absolute session totals', () => {
    const meter = new UsageMeter(MODELS);
    meter.addSttAudio(12.5);
    meter.onMetrics(llmMetrics(100, 0, 0, 10));
    meter.addSpeech({ provider: 'deepgram', model: 'aura-2-thalia-en', characters: 42 });
    const call = { sessionId: '7f1d3c2a-9b8e-4f6d-a5c4-3b2a1f0e9d8c', userId: 'u', conversationId: 'c' };
    const a = toUsageLogRow(call, meter.snapshot(), { startedAtMs: 0, final: false });
    const b = toUsageLogRow(call, meter.snapshot(), {
      startedAtMs: 0,
      final: true,
      endReason: 'caller_left',
    });
    expect(a.id).toBe(b.id);
    expect(b).toMatchObject({
      feature: 'voice_call',
      tokens_used: 110,
      metadata: {
        final: true,
        end_reason: 'caller_left',
        stt: { audio_seconds: 12.5 },
        tts: {
          characters: 42,
          engines: [{ provider: 'deepgram', model: 'aura-2-thalia-en', requests: 1, characters: 42 }],
        },
        llm: { input_tokens: 100, output_tokens: 10 },
      },
    });
    expect(toSessionTotals(meter.snapshot())).toMatchObject({
      stt_audio_seconds: 12.5,
      tts_characters: 42,
      llm_input_tokens: 100,
    });
  });
});

describe('STT audio meter', () => {
  const RATE = 48_000;
  function frame(ms: number, amplitude: number) {
    const n = (RATE * ms) / 1000;
    const data = new Int16Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / RATE));
    return { data, sampleRate: RATE, channels: 1, samplesPerChannel: n };
  }

  it('counts speech and one second of trailing quiet, then stops counting silence (as the plugin sends)', () => {
    const meter = new SttAudioMeter();
    for (let i = 0; i < 20; i++) meter.push(frame(100, 8000)); // 2 s of tone
    for (let i = 0; i < 50; i++) meter.push(frame(100, 0)); // 5 s of silence
    // The cooldown lets ~1 s of quiet through (same float arithmetic as the plugin), then nothing.
    expect(meter.seconds).toBeGreaterThanOrEqual(2.85);
    expect(meter.seconds).toBeLessThanOrEqual(3.05);
  });

  it("re-chunks odd frame sizes into the plugin's 20 ms pieces without losing samples", () => {
    const meter = new SttAudioMeter();
    for (let i = 0; i < 30; i++) meter.push(frame(10 * (1 + (i % 3)), 8000)); // 10/20/30 ms frames, 600 ms
    expect(meter.seconds).toBeCloseTo(0.6, 2);
    meter.push(frame(10, 8000)); // half a chunk: held until the next frame completes it
    expect(meter.seconds).toBeCloseTo(0.6, 2);
    meter.push(frame(10, 8000));
    expect(meter.seconds).toBeCloseTo(0.62, 2);
  });
});
