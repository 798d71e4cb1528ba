import type { ReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { initializeLogger, tts } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { withUnhandledRejectionsCaptured } from '../../../devstack/src/testing/unhandled-rejections.ts';
import {
  LEAD_SILENCE_MAX_MS,
  LEAD_SILENCE_THRESHOLD,
  LeadingSilenceTrimmer,
  OpenAISpeech,
  PcmFramer,
  SPEECH_FRAME_SAMPLES,
  SPEECH_SAMPLE_RATE,
} from '../../src/pipeline/openai-speech.ts';
import { PrefetchedSpeech } from '../../src/pipeline/prefetched-speech.ts';

/**
 * OpenAI shuts /v1/audio/speech's models down on 2027-01-06 (core/src/model-calendar.ts) and the stand-in refuses
 * them from then on, as the API will: these tests pin a day before it. Delete them with the engine after that date.
 */
const BEFORE_TTS1_SHUTDOWN = '2026-12-05';

let standins: ProviderStandins;

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 0 }, calendarDate: BEFORE_TTS1_SHUTDOWN });
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

/**
 * The same sentence fetched from the stand-in without OpenAISpeech: its samples from the first audible one on
 * (what should be played) and how many came before it.
 */
async function rawSpeech(text: string): Promise<{ audible: number[]; trimmed: number }> {
  const response = await new OpenAI({ apiKey: 'k', baseURL: standins.openaiUrl }).audio.speech.create({
    input: text,
    model: 'tts-1',
    voice: 'alloy',
    response_format: 'pcm',
  });
  const raw = new Int16Array(await response.arrayBuffer());
  const trimmed = raw.findIndex((s) => Math.abs(s) >= LEAD_SILENCE_THRESHOLD);
  return { audible: [...raw.subarray(trimmed)], trimmed };
}

/** Feeds `bytes` to a trimmer in chunks of `size` bytes; returns every sample it passed on. */
function trimInChunks(bytes: Uint8Array, size: number, maxMs?: number): number[] {
  const trimmer = new LeadingSilenceTrimmer(24_000, maxMs);
  const out: number[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(...trimmer.push(bytes.subarray(o, o + size)));
  const even = out.length - (out.length % 2);
  return [...new Int16Array(Uint8Array.from(out.slice(0, even)).buffer)];
}

describe('LeadingSilenceTrimmer', () => {
  const quiet = LEAD_SILENCE_THRESHOLD - 1;
  // 120 inaudible samples (zeros and near-zero noise), then speech that itself has quiet stretches.
  const samples = Int16Array.from([
    ...Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? 0 : i % 2 ? quiet : -quiet)),
    LEAD_SILENCE_THRESHOLD,
    900,
    0,
    0,
    -quiet,
    -1_500,
  ]);
  const bytes = new Uint8Array(samples.buffer);

  it('drops the inaudible lead-in and passes every sample from the first audible one on, whatever the chunking', () => {
    const expected = [...samples.subarray(120)];
    for (const size of [1, 3, 7, 64, 241, bytes.length]) expect(trimInChunks(bytes, size)).toEqual(expected);
  });

  it('trims at most LEAD_SILENCE_MAX_MS, so audio that stays silent is still played', () => {
    const silent = new Uint8Array(24 * 2 * (LEAD_SILENCE_MAX_MS + 100)); // 100 ms more than the cap, all zeros
    const passed = trimInChunks(silent, 1_001);
    expect(passed).toHaveLength(24 * 100);
    expect(passed.every((s) => s === 0)).toBe(true);
  });

  it('passes audio that starts loud untouched', () => {
    const loud = new Uint8Array(Int16Array.from([5_000, 0, 0, -5_000]).buffer);
    expect(trimInChunks(loud, 4)).toEqual([5_000, 0, 0, -5_000]);
  });
});

describe('OpenAISpeech against the OpenAI stand-in', () => {
  it('returns the audio from its first audible sample on, in 50 ms frames, the last one marked final', async () => {
    standins.reset();
    const text = 'The weather on the moon is very dry.';
    const chunks = [];
    for await (const audio of speech().synthesize(text)) chunks.push(audio);
    const [request] = standins.recorded.tts;
    expect(request?.status).toBe(200);
    expect(request?.responseFormat).toBe('pcm');
    const { audible, trimmed } = await rawSpeech(text);
    expect(trimmed).toBeGreaterThan(0); // the stand-in's speech starts with silence: something was trimmed
    expect(chunks.flatMap((c) => [...c.frame.data])).toEqual(audible);
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

describe('OpenAISpeech.stream: a reply streaming in from Claude, cut into speech requests', () => {
  const reply = 'Sure. That is a good question and it depends. Ok? Ask me.'.split(/(?= )/);

  it('sends a short first sentence alone, before the rest of the reply has arrived', async () => {
    standins.reset();
    const engine = speech();
    const reports: Array<{ streamed: boolean; charactersCount: number }> = [];
    engine.on('metrics_collected', (m) => reports.push(m));
    const stream = engine.stream();
    let frames = 0;
    const drained = (async () => {
      for await (const audio of stream) if (audio !== tts.SynthesizeStream.END_OF_STREAM) frames++;
    })();
    stream.pushText(reply[0] ?? '');
    stream.pushText(reply[1] ?? '');
    // Claude has written "Sure. That" and nothing more: "Sure." must already be on its way to the speech API.
    const deadline = Date.now() + 5_000;
    while (standins.recorded.tts.length === 0 && Date.now() < deadline) await sleep(10);
    expect(standins.recorded.tts.map((r) => r.input)).toEqual(['Sure.']);
    for (const piece of reply.slice(2)) stream.pushText(piece);
    stream.endInput();
    await drained;
    // Later short sentences are still joined, up to 20 characters, rather than sent one by one.
    expect(standins.recorded.tts.map((r) => r.input)).toEqual([
      'Sure.',
      'That is a good question and it depends.',
      'Ok? Ask me.',
    ]);
    expect(frames).toBeGreaterThan(0);
    // One report per HTTP request (what the usage meter bills) and the adapter's own for the whole stream. The
    // requests run side by side, so their reports come in the order they finish: compare them sorted.
    const perRequest = reports.filter((r) => !r.streamed).map((r) => r.charactersCount);
    expect(perRequest.sort((a, b) => a - b)).toEqual([5, 11, 39]);
  });
});

describe('PrefetchedSpeech', () => {
  it('hands out the whole synthesised audio as a stream, playable before or after synthesis ends', async () => {
    standins.reset();
    const text = 'Hello there, I am listening.';
    const prefetched = PrefetchedSpeech.start(speech(), text);
    const audio = await prefetched.audio(15_000);
    expect(audio).toBeDefined();
    const frames = await collect(audio as ReadableStream<AudioFrame>);
    await prefetched.settled();
    expect(frames.flatMap((f) => [...f.data])).toEqual((await rawSpeech(text)).audible);
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
    // Reported as the engine's error event only, not also as an unhandled rejection (patched ChunkedStream).
    expect(leaked).toEqual([]);
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
