import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';

import { AgentSpeech, type HeardSegment, sleep } from './agent-speech.ts';

const SAMPLE_RATE = 48_000;
const FRAME_MS = 10;

/**
 * A caller over real WebRTC (@livekit/rtc-node): publishes a microphone track fed from speech clips in real
 * time, and listens to the agent's audio, recording when it is heard.
 */
export class ScriptedCaller {
  readonly room = new Room();
  readonly #agent = new AgentSpeech();
  #source = new AudioSource(SAMPLE_RATE, 1);
  #listening: Promise<void> | undefined;

  async join(url: string, token: string): Promise<void> {
    this.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
      if (track.kind === TrackKind.KIND_AUDIO && !this.#listening)
        this.#listening = this.#agent.listen(track, SAMPLE_RATE);
    });
    await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
    const track = LocalAudioTrack.createAudioTrack('microphone', this.#source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await this.room.localParticipant?.publishTrack(track, options);
    this.#pumping = true;
    void this.#pump();
  }

  /** Resolves with the first segment of agent speech that starts after `afterMs` (epoch). */
  waitForSpeech(afterMs: number, timeoutMs?: number): Promise<HeardSegment> {
    return this.#agent.waitForSpeech(afterMs, timeoutMs);
  }

  /** Every segment of agent speech heard so far, in order. */
  get heard(): readonly HeardSegment[] {
    return this.#agent.segments;
  }

  /** Resolves once the agent has been quiet for `quietMs`. */
  waitForQuiet(quietMs?: number, timeoutMs?: number): Promise<void> {
    return this.#agent.waitForQuiet(quietMs, timeoutMs);
  }

  /**
   * Speaks a clip in real time (the microphone sends silence before and after, as a real one does). Returns the
   * epoch ms when its speech ended (its last voiced sample was sent): the reference for voice-to-voice latency.
   */
  speak(clip: {
    samples: Int16Array;
    sampleRate: number;
    utterances: Array<{ start: number; end: number }>;
  }): Promise<number> {
    const samples =
      clip.sampleRate === SAMPLE_RATE ? clip.samples : resample(clip.samples, clip.sampleRate, SAMPLE_RATE);
    const speechEndSample = Math.round(
      (clip.utterances.at(-1)?.end ?? clip.samples.length / clip.sampleRate) * SAMPLE_RATE,
    );
    return new Promise((resolve) => {
      this.#clip = { samples, offset: 0, speechEndSample, speechEndedAt: 0, done: resolve };
    });
  }

  #clip:
    | {
        samples: Int16Array;
        offset: number;
        speechEndSample: number;
        speechEndedAt: number;
        done: (t: number) => void;
      }
    | undefined;
  #pumping = false;

  /** The microphone: one 10 ms frame every 10 ms, from the current clip or silence. */
  async #pump(): Promise<void> {
    const perFrame = (SAMPLE_RATE * FRAME_MS) / 1000;
    const started = Date.now();
    for (let i = 0; this.#pumping; i++) {
      const chunk = new Int16Array(perFrame);
      const clip = this.#clip;
      if (clip) {
        chunk.set(clip.samples.subarray(clip.offset, Math.min(clip.offset + perFrame, clip.samples.length)));
        clip.offset += perFrame;
        if (!clip.speechEndedAt && clip.offset >= clip.speechEndSample) clip.speechEndedAt = Date.now();
        if (clip.offset >= clip.samples.length) {
          this.#clip = undefined;
          clip.done(clip.speechEndedAt || Date.now());
        }
      }
      try {
        await this.#source.captureFrame(new AudioFrame(chunk, SAMPLE_RATE, 1, perFrame));
      } catch {
        return; // source closed
      }
      const wait = started + (i + 1) * FRAME_MS - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  async hangUp(): Promise<void> {
    this.#pumping = false;
    await this.room.disconnect();
    await this.#source.close();
  }
}

function resample(input: Int16Array, from: number, to: number): Int16Array {
  const ratio = from / to;
  const out = new Int16Array(Math.floor(input.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const pos = i * ratio;
    const i0 = Math.floor(pos);
    const i1 = Math.min(i0 + 1, input.length - 1);
    const frac = pos - i0;
    out[i] = Math.round((input[i0] ?? 0) * (1 - frac) + (input[i1] ?? 0) * frac);
  }
  return out;
}
