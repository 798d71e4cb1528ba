import { initializeLogger, VADEventType } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { speechClip } from '@voice/devstack/standins/fixtures';
import { SILERO_VAD_OPTIONS } from '../../agent/src/pipeline/vad-options.ts';

/**
 * The VAD's share of barge-in delay, on the audio's own clock (issue 15): for the turns benchmark's interruption
 * and backchannel clips (Flite `slt`, as the bench caller says them), fed to the agent's Silero VAD as the agent
 * gets the caller (16 kHz, 20 ms frames, VAD settings of agent/src/pipeline/vad-options.ts), how long after the clip's first voiced
 * sample the VAD reports the start of speech, and when its speech duration reaches 200, 250 and 400 ms (the
 * INTERRUPTION_MIN_DURATION_MS values compared). Audio time only: the two WebRTC legs, the word gate and the
 * output queue come on top (bench/README.md, "Turn-taking").
 *
 *   npx tsx bench/src/interrupt-onset.ts
 */
const CLIPS = ['Hold on what flour is best for pizza dough?', 'Yeah.', 'Okay.', 'Mm-hm.'];
const RATE = 16_000;
const FRAME = RATE / 50;

initializeLogger({ pretty: false, level: 'warn' });
const vad = await silero.VAD.load(SILERO_VAD_OPTIONS);
for (const text of CLIPS) {
  const clip = await speechClip(text, { voice: 'flite:slt', sampleRate: RATE, trailSilenceMs: 800 });
  const voicedAt = (clip.utterances[0]?.start ?? 0) * 1000;
  const stream = vad.stream();
  const marks: Record<string, number | undefined> = {};
  const done = (async () => {
    for await (const ev of stream) {
      const at = Math.round(ev.timestamp - voicedAt);
      if (ev.type === VADEventType.START_OF_SPEECH) marks.start ??= at;
      if (ev.type === VADEventType.END_OF_SPEECH) {
        marks.end ??= at;
        return; // the clip's trailing silence ends its speech
      }
      if (ev.type === VADEventType.INFERENCE_DONE) {
        if (ev.speechDuration >= 200) marks.d200 ??= at;
        if (ev.speechDuration >= 250) marks.d250 ??= at;
        if (ev.speechDuration >= 400) marks.d400 ??= at;
      }
    }
  })();
  for (let o = 0; o + FRAME <= clip.samples.length; o += FRAME) {
    stream.pushFrame(new AudioFrame(clip.samples.slice(o, o + FRAME), RATE, 1, FRAME));
  }
  await done;
  stream.close();
  const speechMs = Math.round(((clip.utterances.at(-1)?.end ?? 0) - (clip.utterances[0]?.start ?? 0)) * 1000);
  process.stdout.write(
    `${JSON.stringify(text)} (${speechMs} ms of speech): VAD start +${marks.start} ms, speech 200 ms at ` +
      `+${marks.d200 ?? '-'} ms, 250 ms at ` +
      `+${marks.d250 ?? '-'} ms, 400 ms at +${marks.d400 ?? '-'} ms, end of speech +${marks.end ?? '-'} ms ` +
      '(after the first voiced sample, audio clock)\n',
  );
}
process.exit(0);
