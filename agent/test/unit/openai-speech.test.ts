import type { ReadableStream } from 'node:stream/web';
import { initializeLogger } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { withUnhandledRejectionsCaptured } from '../../../devstack/src/testing/unhandled-rejections.ts';
import {
  OpenAISpeech,
  PcmFramer,
  SPEECH_FRAME_SAMPLES,
  SPEECH_SAMPLE_RATE,
} from '../../src/pipeline/openai-speech.ts';
import { PrefetchedSpeech } from '../../src/pipeline/prefetched-speech.ts';

let standins: ProviderStandins;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'warn' });
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 0 } });
});
afterAll(() => standins.stop());

function speech(maxRetries = 0): OpenAISpeech {
  return new OpenAISpeech({
    client: new OpenAI({ apiKey: 'k', baseURL: standins.openaiUrl, maxRetries }),
    model: 'tts-1',
    voice: 'alloy',
  });
}

async function collect(stream: ReadableStream<AudioFrame>): Promise<AudioFrame[]> {
  const frames: AudioFrame[] = [];
  for await (const frame of stream) frames.push(frame);
  return frames;
}

describe('PcmFramer', () => {
  it('cuts arbitrary (even odd-sized) byte chunks into whole frames with every sample in order', () => {
    const samples = Int16Array.from({ length: 2_500 }, (_, i) => i - 1_250);
    const bytes = new Uint8Array(samples.buffer);
    const framer = new PcmFramer(24_000, 1_000);
    const out: AudioFrame[] = [];
    for (let o = 0; o < bytes.length; o += 333) out.push(...framer.push(bytes.subarray(o, o + 333)));
    const rest = framer.flush();
    expect(out.map((f) => f.samplesPerChannel)).toEqual([1_000, 1_000]);
    expect(rest?.samplesPerChannel).toBe(500);
    const all = [...out, ...(rest ? [rest] : [])].flatMap((f) => [...f.data]);
    expect(all).toEqual([...samples]);
    for (const f of out) expect(f.data.byteOffset).toBe(0);
  });

  it('drops a trailing odd byte instead of inventing a sample', () => {
    const framer = new PcmFramer(24_000, 1_000);
    expect(framer.push(new Uint8Array([1, 0, 2, 0, 3]))).toEqual([]);
    expect([...(framer.flush()?.data ?? [])]).toEqual([1, 2]);
    expect(framer.flush()).toBeUndefined();
  });
});

describe('OpenAISpeech against the OpenAI stand-in', () => {
  it('returns all of the audio, in 50 ms frames, the last one marked final', async () => {
    standins.reset();
    const chunks = [];
    for await (const audio of speech().synthesize('The weather on the moon is very dry.')) chunks.push(audio);
    const seconds = chunks.reduce((s, c) => s + c.frame.samplesPerChannel / c.frame.sampleRate, 0);
    const [request] = standins.recorded.tts;
    expect(request?.status).toBe(200);
    expect(request?.responseFormat).toBe('pcm');
    expect(seconds).toBeCloseTo(request?.audioSeconds ?? -1, 3);
    expect(chunks.slice(0, -1).every((c) => c.frame.samplesPerChannel === SPEECH_FRAME_SAMPLES)).toBe(true);
    expect(chunks.map((c) => c.final)).toEqual([...chunks.slice(1).map(() => false), true]);
    expect(chunks.every((c) => c.frame.sampleRate === SPEECH_SAMPLE_RATE)).toBe(true);
  });

  it('reports characters and time to first audio as TTS metrics (what the usage meter bills)', async () => {
    standins.reset();
    const engine = speech();
    const metrics: Array<{ charactersCount: number; ttfbMs: number }> = [];
    engine.on('metrics_collected', (m) => metrics.push(m));
    for await (const _ of engine.synthesize('Twelve words, more or less.')) {
      // drain
    }
    expect(metrics).toHaveLength(1);
    expect(metrics[0]?.charactersCount).toBe('Twelve words, more or less.'.length);
    expect(metrics[0]?.ttfbMs).toBeGreaterThan(0);
  });

  it('turns a refused request into one error event, with the status', async () => {
    standins.reset();
    standins.configure({ ttsFailures: [{ status: 500 }] });
    const engine = speech(0);
    const errors: Array<{ error: { statusCode?: number }; recoverable: boolean }> = [];
    engine.on('error', (e) => errors.push(e as never));
    let frames = 0;
    await withUnhandledRejectionsCaptured(async () => {
      for await (const _ of engine.synthesize('Nobody will hear this.')) frames++;
    });
    expect(frames).toBe(0);
    expect(errors.map((e) => [e.error.statusCode, e.recoverable])).toEqual([[500, false]]);
  });
});

describe('PrefetchedSpeech', () => {
  it('hands out the whole synthesised audio as a stream, playable before or after synthesis ends', async () => {
    standins.reset();
    const prefetched = PrefetchedSpeech.start(speech(), 'Hello there, I am listening.');
    const audio = await prefetched.audio(15_000);
    expect(audio).toBeDefined();
    const frames = await collect(audio as ReadableStream<AudioFrame>);
    await prefetched.settled();
    const seconds = frames.reduce((s, f) => s + f.samplesPerChannel / f.sampleRate, 0);
    expect(seconds).toBeCloseTo(standins.recorded.tts[0]?.audioSeconds ?? -1, 3);
    expect(prefetched.failure).toBeUndefined();
  });

  it('gives undefined when synthesis fails, so the greeting is synthesised the usual way', async () => {
    standins.reset();
    standins.configure({ ttsFailures: [{ status: 500 }] });
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      const prefetched = PrefetchedSpeech.start(speech(0), 'Hello there.');
      expect(await prefetched.audio(5_000)).toBeUndefined();
      await prefetched.settled();
    });
    expect(leaked).toHaveLength(1);
  });

  it('gives undefined when no audio came in time, and stops the request', async () => {
    standins.reset();
    standins.configure({ profile: { ttsTtfbMs: 5_000 } });
    try {
      const prefetched = PrefetchedSpeech.start(speech(), 'Hello there.');
      const started = Date.now();
      expect(await prefetched.audio(200)).toBeUndefined();
      // Well before the stand-in's first byte: the wait is bounded by the argument, not by the request.
      expect(Date.now() - started).toBeLessThan(4_000);
      await prefetched.settled();
    } finally {
      standins.configure({ profile: { ttsTtfbMs: 0 } });
    }
  });
});
