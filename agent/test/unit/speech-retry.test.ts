import { initializeLogger } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { withUnhandledRejectionsCaptured } from '../../../devstack/src/testing/unhandled-rejections.ts';
import { buildProviders } from '../../src/pipeline/build-session.ts';
import { SPEECH_REQUEST_RETRIES } from '../../src/pipeline/call-speech.ts';
import { standinAgentConfig, standinSpeechOptions } from './standin-agent-config.ts';

/**
 * OpenAI shuts /v1/audio/speech's models down on 2027-01-06 (core/src/model-calendar.ts) and the stand-in refuses
 * them from then on, as the API will: these tests pin a day before it. Delete them with the engine after that date.
 */
const BEFORE_TTS1_SHUTDOWN = '2026-12-05';

// The /v1/audio/speech engine as the pipeline builds it (OpenAISpeech over the OpenAI SDK, TTS_PROVIDERS=openai-speech), driven against the OpenAI
// stand-in: transient 429/500 answers are retried inside the request, so the reply is still spoken and the
// engine never reports an (unrecoverable) error. With agents-plugin-openai 1.9 (its client has maxRetries 0) both
// fail.
let standins: ProviderStandins;

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 0 }, calendarDate: BEFORE_TTS1_SHUTDOWN });
});
afterAll(() => standins.stop());

function pipelineTts() {
  const config = standinAgentConfig(standins, {
    TTS_PROVIDERS: 'openai-speech',
    AGENT_MODEL_CALENDAR_DATE: BEFORE_TTS1_SHUTDOWN,
  });
  return buildProviders(config, standinSpeechOptions(standins)).tts;
}

describe('speech requests survive transient provider errors', () => {
  it('retries a 500 and a 429 and still returns the audio', async () => {
    standins.reset();
    standins.configure({ ttsFailures: [{ status: 500 }, { status: 429 }] });
    const tts = pipelineTts();
    const errors: unknown[] = [];
    tts.on('error', (event) => errors.push(event.error));

    let seconds = 0;
    for await (const audio of tts.synthesize('The weather on the moon is very dry.')) {
      seconds += audio.frame.samplesPerChannel / audio.frame.sampleRate;
    }

    expect(errors).toEqual([]);
    expect(seconds).toBeGreaterThan(1);
    expect(standins.recorded.tts.map((request) => request.status)).toEqual([500, 429, 200]);
  });

  it('gives up after its retries, with the error surfaced (not hung)', async () => {
    standins.reset();
    standins.configure({
      ttsFailures: Array.from({ length: SPEECH_REQUEST_RETRIES + 1 }, () => ({ status: 500 })),
    });
    const tts = pipelineTts();
    const errors: unknown[] = [];
    tts.on('error', (event) => errors.push(event.error));
    let frames = 0;
    const leaked = await withUnhandledRejectionsCaptured(async () => {
      for await (const _ of tts.synthesize('Nobody will hear this.')) frames++;
    });
    expect(frames).toBe(0);
    expect(errors).toHaveLength(1);
    // The error is reported once, as the 'error' event above, and nowhere else: agents 1.9's ChunkedStream also
    // rethrew it from a promise nobody awaits (an unhandled rejection) until patches/@livekit+agents+1.9.0.patch.
    expect(leaked).toEqual([]);
    expect(standins.recorded.tts).toHaveLength(SPEECH_REQUEST_RETRIES + 1);
  });
});
