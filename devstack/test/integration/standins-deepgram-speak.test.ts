import { initializeLogger } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { synthesizeSpeech } from '../../src/standins/espeak.ts';
import { type ProviderStandins, startProviderStandins } from '../../src/standins/index.ts';

// Contract: the real @livekit/agents-plugin-deepgram TTS stream (WebSocket /v1/speak), pointed at the stand-in
// through `baseUrl` (the STT's base URL and key), gets speech for its text and ends its stream on `Flushed`;
// what Deepgram refuses (an unknown model) fails the stream.

let standins: ProviderStandins;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 100 } });
});
afterAll(async () => {
  await standins?.stop();
});
beforeEach(() => standins.reset());

function newTts(model = 'aura-2-andromeda-en') {
  const engine = new deepgram.TTS({ baseUrl: standins.deepgramUrl, apiKey: 'test-deepgram-key', model });
  const errors: Array<{ error: Error }> = [];
  engine.on('error', (error) => errors.push(error));
  return { engine, errors };
}

async function speakAll(engine: deepgram.TTS, sentences: string[]) {
  const stream = engine.stream({ connOptions: { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 5_000 } });
  for (const sentence of sentences) stream.pushText(sentence);
  stream.endInput();
  const samples: number[] = [];
  let ended = false;
  for await (const audio of stream) {
    if (typeof audio === 'symbol') {
      ended = true;
      continue;
    }
    expect(audio.frame.sampleRate).toBe(24_000);
    samples.push(...audio.frame.data);
  }
  return { samples, ended };
}

describe('Deepgram speech stand-in, driven by @livekit/agents-plugin-deepgram TTS', () => {
  it('speaks the streamed text (linear16 24 kHz) and ends the stream; characters are recorded for billing', async () => {
    const { engine, errors } = newTts();
    const text = 'Hello from the second speech engine. It speaks when the first one cannot.';
    const { samples, ended } = await speakAll(engine, [text]);
    expect(errors).toEqual([]);
    expect(ended).toBe(true);
    const expected = await synthesizeSpeech(text, { sampleRate: 24_000 });
    // The plugin frames audio in 50 ms frames and flushes the remainder: every sample arrives.
    expect(samples.length).toBe(expected.length / 2);
    const record = standins.recorded.speak[0];
    expect(record?.model).toBe('aura-2-andromeda-en');
    // The plugin flushes at the end of its input and again before Close.
    expect(record?.flushes).toBeGreaterThanOrEqual(1);
    expect(record?.texts.join('').trim()).toBe(text);
    expect(record?.characters).toBe(record?.texts.join('').length);
    expect(record?.firstAudioMs[0]).toBeGreaterThanOrEqual(100);
  });

  it('refuses an unknown model at the upgrade: the stream fails with an error on the engine', async () => {
    const { engine, errors } = newTts('aura-2-nonexistent-en');
    const { samples } = await speakAll(engine, ['Nobody hears this.']);
    expect(samples).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error.message).toMatch(/400/);
    expect(standins.recorded.speak).toEqual([]);
  });

  it('injects failures: an Error message or a dropped connection fails the stream', async () => {
    for (const failure of [{ kind: 'error' as const }, { kind: 'disconnect' as const, afterAudio: true }]) {
      standins.reset();
      standins.configure({ speakFailures: [failure] });
      const { engine, errors } = newTts();
      const { ended } = await speakAll(engine, ['This sentence breaks.']);
      expect(ended).toBe(false);
      expect(errors).toHaveLength(1);
      expect(standins.recorded.speak[0]?.failure).toBe(failure.kind);
    }
  });
});
