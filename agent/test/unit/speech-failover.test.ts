import { initializeLogger, tts } from '@livekit/agents';
import type { SpeechProvider } from '@voice/core/config/agent';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { withUnhandledRejectionsCaptured } from '../../../devstack/src/testing/unhandled-rejections.ts';
import { buildCallSpeech, type CallSpeech } from '../../src/pipeline/call-speech.ts';
import { RecordingSpeechObserver, standinAgentConfig, standinSpeechOptions } from './standin-agent-config.ts';

// The call's speech as the pipeline builds it from TTS_PROVIDERS=openai-realtime,deepgram (the default), driven
// like the session drives it (a streamed reply), against the Realtime and Deepgram stand-ins: when the Realtime
// engine fails, stalls or breaks off, Deepgram speaks the sentences; when it recovers, it speaks again; the
// session never hears of an engine's failure that another engine covered.

let standins: ProviderStandins;
let speech: CallSpeech | undefined;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 0 } });
});
afterAll(() => standins.stop());
beforeEach(() => standins.reset());
afterEach(async () => {
  await speech?.close();
  speech = undefined;
});

/**
 * First audio within this long (TTS_FIRST_AUDIO_TIMEOUT_MS; the session passes it as its TTS timeout). Generous:
 * the stand-ins synthesise with espeak-ng on a shared, often loaded machine, and an engine that misses it is
 * (rightly) taken out of service, which would make these tests depend on the machine's load.
 */
const GENEROUS_TIMEOUT_MS = 8_000;

function build(firstAudioTimeoutMs = GENEROUS_TIMEOUT_MS) {
  const observer = new RecordingSpeechObserver();
  const availability: Array<[SpeechProvider, boolean]> = [];
  const config = standinAgentConfig(standins, {
    TTS_FIRST_AUDIO_TIMEOUT_MS: String(firstAudioTimeoutMs),
    TTS_RECOVERY_INTERVAL_SECONDS: '1',
  });
  expect(config.speech.providers).toEqual(['openai-realtime', 'deepgram']);
  speech = buildCallSpeech(
    config,
    standinSpeechOptions(standins, observer, {
      onAvailability: (provider, available) => availability.push([provider, available]),
    }),
  );
  const sessionErrors: Error[] = [];
  speech.session.on('error', (event) => sessionErrors.push(event.error));
  const connOptions = { maxRetry: 2, retryIntervalMs: 100, timeoutMs: firstAudioTimeoutMs };
  return { speech, observer, availability, sessionErrors, connOptions };
}

/** Speaks a reply the way the session does; returns the seconds of audio heard. */
async function reply(
  session: tts.TTS,
  text: string,
  connOptions = { maxRetry: 2, retryIntervalMs: 100, timeoutMs: GENEROUS_TIMEOUT_MS },
): Promise<number> {
  const stream = session.stream({ connOptions });
  for (const word of text.split(/(?<= )/)) stream.pushText(word);
  stream.endInput();
  let seconds = 0;
  for await (const audio of stream) {
    if (audio === tts.SynthesizeStream.END_OF_STREAM) continue;
    seconds += audio.frame.samplesPerChannel / audio.frame.sampleRate;
  }
  return seconds;
}

const spokenBy = (observer: RecordingSpeechObserver) => observer.sentences.map((s) => [s.provider, s.text]);

describe('speech failover (TTS_PROVIDERS)', () => {
  it('speaks with the Realtime engine while it works; Deepgram is not used', async () => {
    const { speech, observer, sessionErrors } = build();
    expect(await reply(speech.session, 'Hello there. How can I help?')).toBeGreaterThan(1);
    // (Reported as each finishes; two sentences are synthesised at once, so the short second may finish first.)
    expect(spokenBy(observer).sort()).toEqual([
      ['openai-realtime', 'Hello there.'],
      ['openai-realtime', 'How can I help?'],
    ]);
    expect(standins.recorded.speak).toEqual([]);
    expect(sessionErrors).toEqual([]);
  });

  it('when the Realtime engine starts failing mid-call, Deepgram speaks the next replies; it moves back once the Realtime engine recovers', async () => {
    const { speech, observer, availability, sessionErrors } = build();
    await reply(speech.session, 'First answer from the primary.');
    standins.configure({ realtimeOutage: { kind: 'failed' } });
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      expect(await reply(speech.session, 'Second answer. Spoken by the second engine.')).toBeGreaterThan(1);
    });
    expect(spokenBy(observer).sort()).toEqual([
      ['deepgram', 'Second answer.'],
      ['deepgram', 'Spoken by the second engine.'],
      ['openai-realtime', 'First answer from the primary.'],
    ]);
    expect(availability).toContainEqual(['openai-realtime', false]);
    // The session heard nothing: the failures were covered (no unrecoverable speech error towards the call's limit).
    expect(sessionErrors).toEqual([]);
    // A covered failure leaks nothing either (patches/@livekit+agents+1.9.0.patch, ChunkedStream).
    expect(leaked).toEqual([]);

    // Recovery: the background check succeeds once the Realtime API answers again.
    standins.configure({ realtimeOutage: null });
    await waitFor(() => availability.some(([p, ok]) => p === 'openai-realtime' && ok));
    observer.sentences.length = 0;
    await reply(speech.session, 'Third answer, the primary again.');
    expect(spokenBy(observer)).toEqual([['openai-realtime', 'Third answer, the primary again.']]);

    // Usage of both engines, each as its provider reported it.
    const providers = new Set(observer.usages.map((u) => u.provider));
    expect(providers).toEqual(new Set(['openai-realtime', 'deepgram']));
    const deepgramChars = observer.usages
      .filter((u) => u.provider === 'deepgram')
      .reduce((n, u) => n + u.characters, 0);
    expect(deepgramChars).toBe(standins.recorded.speak.reduce((n, c) => n + c.characters, 0));
  });

  it('a stalled Realtime engine (no audio in time) hands the sentence to Deepgram', async () => {
    const { speech, observer, sessionErrors, connOptions } = build(2_000);
    standins.configure({ realtimeOutage: { kind: 'stall' } });
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      expect(await reply(speech.session, 'Nobody waits forever.', connOptions)).toBeGreaterThan(0.5);
    });
    expect(leaked).toEqual([]);
    expect(spokenBy(observer)).toEqual([['deepgram', 'Nobody waits forever.']]);
    expect(sessionErrors).toEqual([]);
  });

  it('a reply whose Realtime speech breaks off in the middle goes on with Deepgram (no silent rest of the reply)', async () => {
    const { speech, observer } = build();
    await reply(speech.session, 'The connection is open.');
    observer.sentences.length = 0;
    // The first sentence's connection drops after its first audio, and the API takes no new connection for now.
    standins.configure({
      realtimeFailures: [{ kind: 'disconnect', afterAudio: true }],
      realtimeRefuseConnections: true,
    });
    const sentences = [
      'This first sentence breaks off after its first audio.',
      'The second sentence follows it right away.',
      'And the third sentence ends the reply.',
    ];
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      await reply(speech.session, sentences.join(' '));
    });
    expect(leaked).toEqual([]);
    // Every sentence was spoken to the end by an engine, the ones after the break by Deepgram.
    const spoken = observer.sentences.map((s) => s.text).join(' ');
    for (const sentence of sentences) expect(spoken).toContain(sentence);
    expect(spokenBy(observer)).toContainEqual(['deepgram', sentences[2]]);
    expect(standins.recorded.realtime[0]?.responses[1]?.failure).toBe('disconnect');
  });

  it('the session hears of a speech error only when no engine could speak', async () => {
    const { speech, sessionErrors } = build();
    standins.configure({ realtimeOutage: { kind: 'failed' }, speakOutage: { kind: 'error' } });
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      expect(await reply(speech.session, 'Nobody can say this.')).toBe(0);
    });
    expect(leaked).toEqual([]);
    expect(sessionErrors.length).toBeGreaterThanOrEqual(1);
    expect(sessionErrors[0]?.message).toMatch(/all TTS instances failed/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
