import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame, type Room } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';

// Pause-first barge-in (patches/@livekit+agents+1.9.0.patch, change 13): pausing LiveKit's room audio output takes
// the audio queued in rtc-node's AudioSource back at once (the caller hears the agent stop now, not 200 ms later)
// and plays it first on resume (nothing of the reply is lost). These drive the real ParticipantAudioOutput and
// AudioSource, playing in real time through the native queue, without a room. The first two fail on the unpatched
// output (its queue plays on after pause(); the segment finishes while its audio is held); the third guards what
// an interrupted paused reply reports as played (what the saved text is cut to).

const SAMPLE_RATE = 24_000;
const FRAME_MS = 20;
const QUEUE_MS = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function frame(): AudioFrame {
  const samples = (SAMPLE_RATE * FRAME_MS) / 1000;
  const data = new Int16Array(samples);
  for (let i = 0; i < samples; i++) data[i] = Math.round(8_000 * Math.sin((i / samples) * 2 * Math.PI));
  return new AudioFrame(data, SAMPLE_RATE, 1, samples);
}

/** The room output as RoomIO builds it, ready to play (the published track's subscription is not needed). */
function roomOutput(): voice.ParticipantAudioOutput {
  const out = new voice.ParticipantAudioOutput(
    null as unknown as Room,
    {
      sampleRate: SAMPLE_RATE,
      numChannels: 1,
      queueSizeMs: QUEUE_MS,
    } as ConstructorParameters<typeof voice.ParticipantAudioOutput>[1],
  );
  (out as unknown as { startedFuture: { resolve(): void } }).startedFuture.resolve();
  return out;
}

const queuedMs = (out: voice.ParticipantAudioOutput) =>
  (out as unknown as { audioSource: { queuedDuration: number } }).audioSource.queuedDuration;

/**
 * Pushes `ms` of audio as the framework does (each frame awaited: the source paces it in real time), until
 * `stop()` says the reply was interrupted.
 */
async function push(out: voice.ParticipantAudioOutput, ms: number, stop = () => false): Promise<void> {
  for (let t = 0; t < ms && !stop(); t += FRAME_MS) await out.captureFrame(frame());
}

beforeAll(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('pausing the room audio output', () => {
  it('stops at once, holds the queued audio, and plays all of it after the resume', async () => {
    const out = roomOutput();
    const started = Date.now();
    const pushing = push(out, 1_000);
    await sleep(400);
    expect(queuedMs(out)).toBeGreaterThan(QUEUE_MS / 2);
    out.pause();
    // Nothing left to play: the caller hears the pause now.
    expect(queuedMs(out)).toBe(0);
    await sleep(500);
    out.resume();
    await pushing;
    out.flush();
    const finished = await out.waitForPlayout();
    expect(finished.interrupted).toBe(false);
    // The whole second was played (the held ~200 ms too; a frame of slack for the one in flight at the pause)...
    expect(finished.playbackPosition).toBeGreaterThan(0.98);
    expect(finished.playbackPosition).toBeLessThanOrEqual(1.0 + 1e-6);
    // ...and it took the second plus the pause.
    expect(Date.now() - started).toBeGreaterThan(1_450);
    await out.close();
  });

  it('does not finish a segment while its last audio is held, and finishes it after the resume', async () => {
    const out = roomOutput();
    await push(out, 300);
    out.flush();
    let finishedAt: number | undefined;
    const finishing = out.waitForPlayout().then((ev) => {
      finishedAt = Date.now();
      return ev;
    });
    // All forwarded; the source still holds the tail.
    expect(queuedMs(out)).toBeGreaterThan(50);
    out.pause();
    expect(queuedMs(out)).toBe(0);
    await sleep(400);
    expect(finishedAt).toBeUndefined();
    const resumedAt = Date.now();
    out.resume();
    const finished = await finishing;
    expect(finished.interrupted).toBe(false);
    expect(finished.playbackPosition).toBeGreaterThan(0.28);
    expect((finishedAt ?? 0) - resumedAt).toBeGreaterThan(40);
    await out.close();
  });

  it('an interruption during the pause drops the held audio and reports only what was played', async () => {
    const out = roomOutput();
    const started = Date.now();
    let interrupted = false;
    const pushing = push(out, 1_000, () => interrupted);
    await sleep(400);
    out.pause();
    const playedAtPause = (Date.now() - started) / 1000;
    await sleep(200);
    // As the framework interrupts a paused reply: forwarding stops, the buffer is cleared, the output resumes.
    interrupted = true;
    out.clearBuffer();
    out.resume();
    await pushing;
    const finished = await out.waitForPlayout();
    expect(finished.interrupted).toBe(true);
    // Played up to the pause (a frame either way), not what was held or never pushed.
    expect(Math.abs(finished.playbackPosition - playedAtPause)).toBeLessThan(0.05);
    await out.close();
  });
});
