import { initializeLogger, VADEventType } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { speechClip } from '@voice/devstack/standins/fixtures';
import { SILERO_VAD_OPTIONS } from '../../agent/src/pipeline/vad-options.ts';
import { QUESTIONS } from './call-rig.ts';

/**
 * CPU cost of the agent's voice activity detection (Silero via onnxruntime, what every call runs on every
 * 10 ms of caller audio), per second of audio, at the VAD's 16 kHz default and at 8 kHz. Frames are fed as fast
 * as the VAD consumes them, at 16 kHz as the agent's room input now delivers them (CALLER_AUDIO_INPUT in agent/src/pipeline/build-session.ts) and at
 * 48 kHz (the VAD then resamples over the FFI, as it did before).
 *
 *   npx tsx bench/src/vad-cost.ts [--seconds 60]
 */
export async function vadCpuPerAudioSecond(
  sampleRate: 8000 | 16000,
  seconds: number,
  inputRate: 16_000 | 48_000 = 48_000,
): Promise<number> {
  const vad = await silero.VAD.load({ ...SILERO_VAD_OPTIONS, sampleRate });
  const clips = await Promise.all(QUESTIONS.map((q) => speechClip(q, { sampleRate: inputRate })));
  const stream = vad.stream();
  const frameSamples = inputRate / 100;
  const totalFrames = Math.round((seconds * 1000) / 10);
  let inferences = 0;
  const done = (async () => {
    for await (const event of stream) {
      if (event.type === VADEventType.INFERENCE_DONE) inferences++;
    }
  })();
  const cpu0 = process.cpuUsage();
  let sent = 0;
  for (let c = 0; sent < totalFrames; c++) {
    const clip = clips[c % clips.length];
    if (!clip) break;
    for (
      let o = 0;
      o + frameSamples <= clip.samples.length && sent < totalFrames;
      o += frameSamples, sent++
    ) {
      stream.pushFrame(new AudioFrame(clip.samples.slice(o, o + frameSamples), inputRate, 1, frameSamples));
    }
    await new Promise((r) => setImmediate(r));
  }
  // Every 32 ms window of audio is one inference; wait until the VAD has caught up (bounded).
  const expected = Math.floor((seconds * 1000) / 32) - 5;
  const deadline = Date.now() + 120_000;
  while (inferences < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  void done;
  const cpu = process.cpuUsage(cpu0);
  if (inferences === 0) throw new Error('VAD ran no inference');
  return (cpu.user + cpu.system) / 1000 / seconds; // CPU ms per second of audio
}

initializeLogger({ pretty: false, level: 'warn' });
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 60;
for (const [rate, input] of [
  [16000, 16_000],
  [16000, 48_000],
  [8000, 16_000],
] as const) {
  const ms = await vadCpuPerAudioSecond(rate, seconds, input);
  process.stdout.write(
    `silero VAD at ${rate} Hz, ${input / 1000} kHz input: ${ms.toFixed(1)} CPU ms per second of audio (${(ms / 10).toFixed(1)}% of a core)\n`,
  );
}
process.exit(0);
