import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';

const SAMPLE_RATE = 48_000;
const FRAME_MS = 10;
/** Agent audio louder than this (full-scale RMS) counts as speech heard. */
const HEARD_RMS = 0.01;

export interface HeardSegment {
  /** Epoch ms of the first loud frame. */
  startedAt: number;
  /** Epoch ms of the last loud frame (updated while it lasts). */
  lastLoudAt: number;
}

/**
 * A caller over real WebRTC (@livekit/rtc-node): publishes a microphone track fed from speech clips in real
 * time, and listens to the agent's audio, recording when it is heard.
 */
export class ScriptedCaller {
  readonly room = new Room();
  readonly heard: HeardSegment[] = [];
  #source = new AudioSource(SAMPLE_RATE, 1);
  #listening: Promise<void> | undefined;

  async join(url: string, token: string): Promise<void> {
    this.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
      if (track.kind === TrackKind.KIND_AUDIO && !this.#listening) this.#listening = this.#listen(track);
    });
    await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
    const track = LocalAudioTrack.createAudioTrack('microphone', this.#source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await this.room.localParticipant?.publishTrack(track, options);
    this.#pumping = true;
    void this.#pump();
  }

  async #listen(track: RemoteTrack): Promise<void> {
    const stream = new AudioStream(track, { sampleRate: SAMPLE_RATE, numChannels: 1 });
    for await (const frame of stream) {
      let sum = 0;
      for (const s of frame.data) sum += (s / 32768) ** 2;
      const rms = Math.sqrt(sum / Math.max(1, frame.data.length));
      if (rms <= HEARD_RMS) continue;
      const now = Date.now();
      const last = this.heard.at(-1);
      // A gap over 600 ms of quiet starts a new segment (sentences within a reply pause less).
      if (last && now - last.lastLoudAt < 600) last.lastLoudAt = now;
      else this.heard.push({ startedAt: now, lastLoudAt: now });
    }
  }

  /** Resolves with the first segment of agent speech that starts after `afterMs` (epoch). */
  async waitForSpeech(afterMs: number, timeoutMs = 20_000): Promise<HeardSegment> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seg = this.heard.find((s) => s.startedAt > afterMs);
      if (seg) return seg;
      if (Date.now() > deadline)
        throw new Error(`no agent speech heard after ${new Date(afterMs).toISOString()}`);
      await sleep(20);
    }
  }

  /** Resolves once the agent has been quiet for `quietMs`. */
  async waitForQuiet(quietMs = 1_000, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.heard.at(-1);
      if (!last || Date.now() - last.lastLoudAt >= quietMs) return;
      if (Date.now() > deadline) throw new Error('agent kept talking');
      await sleep(50);
    }
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
