import {
  APIConnectionError,
  APIStatusError,
  APITimeoutError,
  initializeLogger,
  type tts,
} from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { synthesizeSpeech } from '../../../devstack/src/standins/espeak.ts';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { withUnhandledRejectionsCaptured } from '../../../devstack/src/testing/unhandled-rejections.ts';
import { LEAD_SILENCE_THRESHOLD } from '../../src/pipeline/openai-speech.ts';
import { RealtimeSpeech } from '../../src/pipeline/realtime-speech.ts';
import { RecordingSpeechObserver } from './standin-agent-config.ts';

// The Realtime API speech engine against the Realtime stand-in (the `openai` package's WebSocket client inside):
// what the caller of the engine gets (frames, in order, of the text read verbatim), what it reports (usage from
// response.done, transcript mismatches), and how it behaves on barge-in, drops, stalls and refusals.

let standins: ProviderStandins;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 0 } });
});
afterAll(() => standins.stop());
beforeEach(() => standins.reset());

const engines: RealtimeSpeech[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

function engine(model = 'gpt-realtime-2.1-mini') {
  const observer = new RecordingSpeechObserver();
  const speech = new RealtimeSpeech({
    client: new OpenAI({ apiKey: 'k', baseURL: standins.openaiRealtimeUrl }),
    model,
    voice: 'marin',
    observer,
    socketOptions: { ca: standins.realtimeTls.ca },
  });
  speech.on('error', () => undefined);
  engines.push(speech);
  return { speech, observer };
}

const CONN = { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 5_000 };

async function samplesOf(stream: AsyncIterable<tts.SynthesizedAudio | symbol>): Promise<number[]> {
  const out: number[] = [];
  for await (const audio of stream) {
    if (typeof audio === 'symbol') continue;
    out.push(...(audio.frame as AudioFrame).data);
  }
  return out;
}

/** The stand-in's speech for `text` from its first audible sample (what the engine plays). */
async function expectedSpeech(text: string): Promise<number[]> {
  const raw = new Int16Array(
    new Uint8Array(await synthesizeSpeech(text, { sampleRate: 24_000, voice: 'en-us+f1' })).buffer,
  );
  const first = raw.findIndex((s) => Math.abs(s) >= LEAD_SILENCE_THRESHOLD);
  return [...raw.subarray(first)];
}

describe('RealtimeSpeech (OpenAI Realtime API)', () => {
  it('reads sentences verbatim over one connection set to audio output only, and reports usage from response.done', async () => {
    const { speech, observer } = engine();
    const first = 'Paris is the capital of France.';
    const second = 'It is on the Seine.';
    expect(await samplesOf(speech.synthesize(first, CONN))).toEqual(await expectedSpeech(first));
    expect(await samplesOf(speech.synthesize(second, CONN))).toEqual(await expectedSpeech(second));

    expect(standins.recorded.realtime).toHaveLength(1);
    const connection = standins.recorded.realtime[0];
    expect(connection?.model).toBe('gpt-realtime-2.1-mini');
    expect(connection?.sessionUpdates[0]).toMatchObject({
      type: 'realtime',
      output_modalities: ['audio'],
      audio: { output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' } },
    });
    expect(connection?.responses.map((r) => [r.text, r.status])).toEqual([
      [first, 'completed'],
      [second, 'completed'],
    ]);
    // One usage report per response, with the tokens the API reported.
    expect(observer.usages).toHaveLength(2);
    const [usage] = observer.usages;
    const billed = connection?.responses[0]?.usage;
    expect(usage).toMatchObject({
      provider: 'openai-realtime',
      model: 'gpt-realtime-2.1-mini',
      characters: first.length,
      tokens: {
        textInputTokens: billed?.input_token_details?.text_tokens,
        audioOutputTokens: billed?.output_token_details?.audio_tokens,
        textOutputTokens: billed?.output_token_details?.text_tokens,
      },
    });
    expect(observer.sentences.map((s) => s.transcriptMismatch)).toEqual([false, false]);
  });

  it('streams a reply sentence by sentence, in order', async () => {
    const { speech } = engine();
    const sentences = ['Sure.', 'The moon has no air at all.', 'So it is very quiet there.'];
    const stream = speech.stream({ connOptions: CONN });
    for (const word of sentences.join(' ').split(/(?<= )/)) stream.pushText(word);
    stream.endInput();
    const samples = await samplesOf(stream);
    const expected = (await Promise.all(sentences.map(expectedSpeech))).flat();
    expect(samples).toEqual(expected);
    expect(standins.recorded.realtime[0]?.responses.map((r) => r.text)).toEqual(sentences);
  });

  it('barge-in: cancels the response in flight and never sends the sentences still queued', async () => {
    const { speech, observer } = engine();
    const long = 'This sentence is long enough that the caller will certainly interrupt it before it ends. ';
    const stream = speech.stream({ connOptions: CONN });
    for (let i = 0; i < 6; i++) stream.pushText(`${i}: ${long}`);
    stream.endInput();
    for await (const audio of stream) {
      if (typeof audio !== 'symbol') break; // the first audio frame: the caller starts talking now
    }
    stream.close();
    await waitFor(() => observer.usages.length >= (standins.recorded.realtime[0]?.responses.length ?? 0));
    const responses = standins.recorded.realtime[0]?.responses ?? [];
    // At most two sentences were in flight (the one playing and the next); the other four were dropped unsent.
    expect(responses.length).toBeLessThanOrEqual(2);
    expect(standins.recorded.realtime[0]?.cancels).toBeGreaterThanOrEqual(1);
    expect(responses.some((r) => r.status === 'cancelled')).toBe(true);
    // Cancelled responses are billed for what they generated, and reported.
    expect(observer.usages).toHaveLength(responses.length);
  });

  it('reports a sentence the model reworded as a transcript mismatch', async () => {
    const { speech, observer } = engine();
    standins.configure({ realtimeReword: (text) => text.replace('I am', "I'm") });
    await samplesOf(speech.synthesize('I am happy to help.', CONN));
    await samplesOf(speech.synthesize('Ask me anything.', CONN));
    expect(observer.sentences.map((s) => [s.text, s.transcriptMismatch])).toEqual([
      ['I am happy to help.', true],
      ['Ask me anything.', false],
    ]);
  });

  it('reconnects after the server drops the connection, for the next sentence', async () => {
    const { speech } = engine();
    await samplesOf(speech.synthesize('Before the drop.', CONN));
    standins.dropRealtimeConnections();
    await waitFor(() => standins.recorded.realtime.length === 2);
    expect((await samplesOf(speech.synthesize('After the drop.', CONN))).length).toBeGreaterThan(1000);
    expect(standins.recorded.realtime[1]?.responses.map((r) => r.text)).toEqual(['After the drop.']);
  });

  it('fails with the framework errors: a drop mid-response, a stall, a refused model', async () => {
    const { speech } = engine();
    // agents 1.9's ChunkedStream also rethrows its final error from a promise nobody awaits (see speech-retry).
    const failure = async (text: string, timeoutMs = 5_000) => {
      const errors: Error[] = [];
      speech.once('error', (event) => errors.push(event.error));
      await withUnhandledRejectionsCaptured(async () => {
        await samplesOf(speech.synthesize(text, { ...CONN, timeoutMs }));
      });
      return errors[0];
    };
    standins.configure({ realtimeFailures: [{ kind: 'disconnect' }] });
    const dropped = await failure('Dropped before any audio.');
    expect(dropped).toBeInstanceOf(APIConnectionError);
    expect((dropped as APIConnectionError).retryable).toBe(true);

    standins.configure({ realtimeFailures: [{ kind: 'stall' }] });
    // Long enough for the reconnect after the drop above to finish on a loaded machine (a connection not ready in
    // time is a different, retryable failure); the stand-in never sends audio, so this is still a stall.
    const stalled = await failure('Never spoken.', 1_500);
    expect(stalled).toBeInstanceOf(APITimeoutError);
    // A stall goes to the next engine at once, not to a retry on this one.
    expect((stalled as APITimeoutError).retryable).toBe(false);
    await waitFor(() => standins.recorded.realtime.at(-1)?.responses.at(-1)?.status === 'cancelled');

    const refused = engine('gpt-4o-realtime-preview').speech;
    const errors: Error[] = [];
    refused.on('error', (event) => errors.push(event.error));
    await withUnhandledRejectionsCaptured(async () => {
      await samplesOf(refused.synthesize('Nobody hears this.', CONN));
    });
    expect(errors[0]).toBeInstanceOf(APIStatusError);
    expect(errors[0]?.message).toMatch(/invalid_model/);
    expect((errors[0] as APIStatusError).retryable).toBe(false);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
