import { initializeLogger } from '@livekit/agents';
import * as openai from '@livekit/agents-plugin-openai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hasEspeak, synthesizeSpeech } from '../../src/standins/espeak.ts';
import { type ProviderStandins, startProviderStandins } from '../../src/standins/index.ts';
import { withUnhandledRejectionsCaptured } from '../../src/testing/unhandled-rejections.ts';

// Contract: the real @livekit/agents-plugin-openai TTS, pointed at the stand-in through `baseURL`, gets
// audible 24 kHz speech for its text: as many seconds of audio as espeak-ng speaks that text for.

let standins: ProviderStandins;

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins();
});
afterAll(async () => {
  await standins?.stop();
});
beforeEach(() => standins.reset());

const newTts = () => new openai.TTS({ baseURL: standins.openaiUrl, apiKey: 'test-openai-key' });

async function synthesize(text: string) {
  const frames = [];
  for await (const audio of newTts().synthesize(text)) frames.push(audio.frame);
  return frames;
}

describe('OpenAI speech stand-in, driven by @livekit/agents-plugin-openai', () => {
  it('returns speech for the text: 24 kHz mono frames as long as espeak-ng speaks it', async () => {
    expect(hasEspeak()).toBe(true); // CI installs espeak-ng and sox; without them the audio is tone bursts
    const text = 'Hello! I am the simulated voice of this call.';
    const frames = await synthesize(text);
    expect(frames.length).toBeGreaterThan(10);
    for (const frame of frames) {
      expect(frame.sampleRate).toBe(24_000);
      expect(frame.channels).toBe(1);
    }
    const seconds = frames.reduce((n, f) => n + f.samplesPerChannel / f.sampleRate, 0);
    const expected = (await synthesizeSpeech(text, { sampleRate: 24_000 })).length / 2 / 24_000;
    // The plugin cuts the body into 100 ms frames and drops a shorter tail, so it surfaces up to 0.1 s less.
    expect(seconds).toBeLessThanOrEqual(expected);
    expect(seconds).toBeGreaterThan(expected - 0.1);
    expect(seconds).toBeGreaterThan(2); // a sentence, not a beep

    // Audible: a good share of 20 ms windows carry speech energy.
    const samples = frames.flatMap((f) => Array.from(f.data));
    let voiced = 0;
    let windows = 0;
    for (let i = 0; i + 480 <= samples.length; i += 480, windows++) {
      let sum = 0;
      for (let j = i; j < i + 480; j++) sum += (samples[j]! / 32768) ** 2;
      if (Math.sqrt(sum / 480) > 0.01) voiced++;
    }
    expect(voiced / windows).toBeGreaterThan(0.5);

    expect(standins.recorded.tts).toHaveLength(1);
    expect(standins.recorded.tts[0]).toMatchObject({
      status: 200,
      input: text,
      characters: text.length,
      model: 'tts-1',
      voice: 'alloy',
      responseFormat: 'pcm',
    });
    expect(standins.recorded.tts[0]!.audioSeconds).toBeCloseTo(expected, 3);
  });

  it('waits the configured time to first byte and streams the body in chunks', async () => {
    standins.configure({ profile: { ttsTtfbMs: 400 } });
    const startedAt = Date.now();
    const response = await fetch(`${standins.openaiUrl}/audio/speech`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tts-1',
        voice: 'nova',
        input: 'Streaming test sentence.',
        response_format: 'pcm',
      }),
    });
    const firstByteMs = Date.now() - startedAt;
    expect(response.status).toBe(200);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(firstByteMs).toBeGreaterThanOrEqual(380);
    expect(firstByteMs).toBeLessThan(2_000);
    const body = new Uint8Array(await response.arrayBuffer());
    expect(body.length % 2).toBe(0);
    expect(body.length).toBeGreaterThan(24_000); // over half a second of speech
  });

  it('injects 500 and 429 for the next requests, then recovers', async () => {
    standins.configure({ ttsFailures: [{ status: 500 }, { status: 429 }] });
    const tts = newTts();
    const errors: Array<{ status?: number; recoverable: boolean }> = [];
    tts.on('error', (event) => {
      errors.push({ status: (event.error as { status?: number }).status, recoverable: event.recoverable });
    });
    const frameCount = async () => {
      let n = 0;
      for await (const _ of tts.synthesize('Hi there')) n++;
      return n;
    };
    // What the plugin surfaces: no audio and an error event with the HTTP status (agents 1.9 does not retry
    // the OpenAI SDK's own errors). Unpatched, agents 1.9 ALSO leaked the error as an unhandled promise rejection
    // (ChunkedStream's main task), which kills a plain Node process; our patch (patches/README.md) catches it.
    // Captured anyway, and asserted empty, so a package upgrade that loses the patch is noticed.
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      expect(await frameCount()).toBe(0);
      expect(await frameCount()).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
    });
    expect(errors).toEqual([
      { status: 500, recoverable: false },
      { status: 429, recoverable: false },
    ]);
    expect(leaked).toEqual([]);
    expect(await frameCount()).toBeGreaterThan(0);
    expect(standins.recorded.tts.map((r) => r.status)).toEqual([500, 429, 200]);
  });

  it('answers like OpenAI to a missing key, bad voice and unsupported format', async () => {
    const post = (body: object, headers: Record<string, string> = { authorization: 'Bearer k' }) =>
      fetch(`${standins.openaiUrl}/audio/speech`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const valid = { model: 'tts-1', voice: 'alloy', input: 'Hi', response_format: 'pcm' };
    const noKey = await post(valid, {});
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_api_key' },
    });
    const badVoice = await post({ ...valid, voice: 'robot' });
    expect(badVoice.status).toBe(400);
    expect(await badVoice.json()).toMatchObject({ error: { param: 'voice' } });
    const mp3 = await post({ ...valid, response_format: 'mp3' });
    expect(mp3.status).toBe(400);
    expect(await mp3.json()).toMatchObject({ error: { param: 'response_format' } });
    const empty = await post({ ...valid, input: '' });
    expect(empty.status).toBe(400);
  });

  it('refuses a speech model past its shutdown date on its clock, as OpenAI answers a model that is gone', async () => {
    // The `openai` package's own client, as any integration would call the endpoint.
    const client = new OpenAI({ apiKey: 'test-openai-key', baseURL: standins.openaiUrl, maxRetries: 0 });
    const speak = () =>
      client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hello.', response_format: 'pcm' });
    standins.configure({ calendarDate: '2027-01-05' });
    const served = await speak();
    expect((await served.arrayBuffer()).byteLength).toBeGreaterThan(0);
    standins.configure({ calendarDate: '2027-01-06' });
    const error = (await speak().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('model_not_found');
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toMatch(/The model `tts-1` does not exist or you do not have access to it/);
    // The LiveKit plugin the openai-speech engine uses gets no audio and an error event with the 404.
    const tts = newTts();
    const errors: Array<number | undefined> = [];
    tts.on('error', (event) => errors.push((event.error as { status?: number }).status));
    await withUnhandledRejectionsCaptured(async () => {
      let frames = 0;
      for await (const _ of tts.synthesize('Hello.')) frames++;
      expect(frames).toBe(0);
      await new Promise((r) => setTimeout(r, 50));
    });
    expect(errors).toEqual([404]);
    expect(standins.recorded.tts.map((r) => r.status)).toEqual([200, 404, 404]);
  });

  it('answers GET /v1/models/{id} for current speech and Realtime models, 404 model_not_found otherwise', async () => {
    const client = new OpenAI({ apiKey: 'test-openai-key', baseURL: standins.openaiUrl, maxRetries: 0 });
    standins.configure({ calendarDate: '2026-12-05' });
    await expect(client.models.retrieve('tts-1')).resolves.toMatchObject({ id: 'tts-1', object: 'model' });
    await expect(client.models.retrieve('gpt-realtime-2.1-mini')).resolves.toMatchObject({ object: 'model' });
    standins.configure({ calendarDate: '2027-01-06' });
    const gone = (await client.models.retrieve('tts-1').catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
    expect(gone.code).toBe('model_not_found');
  });
});
