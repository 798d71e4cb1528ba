import { initializeLogger } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { buildProviders } from '../../src/pipeline/build-session.ts';
import { STT_CHUNK_MS, SttChunker } from '../../src/pipeline/voice-agent.ts';
import { SttAudioMeter } from '../../src/usage/stt-audio-meter.ts';
import { standinAgentConfig, standinSpeechOptions } from './standin-agent-config.ts';

// The pipeline's Deepgram STT (the real plugin, as patched by patches/) against the Deepgram stand-in: the audio
// goes out in STT_CHUNK_MS messages. Fails if the patch is not applied (the plugin's own 100 ms) or if the patch
// and our chunker disagree.
let standins: ProviderStandins;

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins();
});
afterAll(() => standins.stop());

it(`sends caller audio to Deepgram in ${STT_CHUNK_MS} ms messages`, async () => {
  const config = standinAgentConfig(standins);
  const stream = buildProviders(config, standinSpeechOptions(standins)).stt.stream();
  const chunker = new SttChunker();
  // One second of quiet noise in 10 ms frames at 16 kHz, as the room delivers it.
  for (let f = 0; f < 100; f++) {
    const data = Int16Array.from({ length: 160 }, (_, i) => ((f * 160 + i) % 7) - 3);
    for (const chunk of chunker.push(new AudioFrame(data, 16_000, 1, 160))) stream.pushFrame(chunk);
  }
  const deadline = Date.now() + 10_000;
  // The plugin's energy filter may hold back a trailing chunk of quiet; 0.9 s is plenty to count messages.
  while ((standins.recorded.stt[0]?.audioSeconds ?? 0) < 0.9 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  stream.close();
  const record = standins.recorded.stt[0];
  expect(record?.audioSeconds).toBeGreaterThanOrEqual(0.9);
  expect((record?.audioSeconds ?? 0) / (record?.audioMessages ?? 1)).toBeCloseTo(STT_CHUNK_MS / 1000, 4);
});

// What we bill for STT is what the meter counts: it must equal what the patched plugin really sent (its energy
// filter drops quiet chunks 1 s after the last loud one, chunk by chunk).
it('the STT audio meter counts exactly the audio the plugin sends', async () => {
  const config = standinAgentConfig(standins);
  const stream = buildProviders(config, standinSpeechOptions(standins)).stt.stream();
  const chunker = new SttChunker();
  const meter = new SttAudioMeter();
  const before = standins.recorded.stt.length;
  // Speech, a long pause (only its first second goes out), speech, a pause: in 10 ms room frames at 16 kHz.
  const parts: Array<[ms: number, amplitude: number]> = [
    [500, 6000],
    [2000, 0],
    [330, 6000],
    [1500, 0],
  ];
  let n = 0;
  for (const [ms, amplitude] of parts) {
    for (let f = 0; f < ms / 10; f++, n++) {
      const data = Int16Array.from({ length: 160 }, (_, i) =>
        Math.round(amplitude * Math.sin((2 * Math.PI * 440 * (n * 160 + i)) / 16_000)),
      );
      for (const chunk of chunker.push(new AudioFrame(data, 16_000, 1, 160))) {
        meter.push(chunk);
        stream.pushFrame(chunk);
      }
    }
  }
  const record = () => standins.recorded.stt[before];
  const deadline = Date.now() + 10_000;
  while ((record()?.audioSeconds ?? 0) < meter.seconds - 1e-6 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  stream.close();
  expect(record()?.audioSeconds).toBeCloseTo(meter.seconds, 6);
  // About 0.5 + 1 + 0.33 + 1 s: the cooldown lets up to one second of each pause through, the rest is not sent.
  expect(meter.seconds).toBeGreaterThan(2.7);
  expect(meter.seconds).toBeLessThan(2.9);
});
