import { monitorEventLoopDelay } from 'node:perf_hooks';
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
import type { SpeechClip } from '@voice/devstack/standins/fixtures';
import { AgentSpeech, type HeardSegment, sleep } from '../../e2e/src/agent-speech.ts';

export interface BenchCallerOptions {
  /**
   * Sample rate of the microphone and of the agent's audio as this caller reads it (default 48 kHz). WebRTC runs
   * Opus at 48 kHz either way; a lower rate here means less audio through the FFI and through JS per frame (the
   * native side resamples), which is most of a caller's cost in this process.
   */
  sampleRate?: number;
  /** Frame length both ways (default 20 ms): every frame is an FFI request or event, with a protobuf each. */
  frameMs?: number;
}

/**
 * One event-loop delay histogram for the whole process: every caller runs on the same loop, and a histogram per
 * caller meant one more 10 ms timer per caller.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let loopDelayUsers = 0;

/** Microphone frames cut from a clip once: captureFrame hands rtc-node a pointer to the frame's whole buffer. */
const renderedClips = new WeakMap<SpeechClip, Map<number, AudioFrame[]>>();

function renderClip(clip: SpeechClip, samplesPerFrame: number): AudioFrame[] {
  let byFrame = renderedClips.get(clip);
  if (!byFrame) {
    byFrame = new Map();
    renderedClips.set(clip, byFrame);
  }
  let frames = byFrame.get(samplesPerFrame);
  if (!frames) {
    frames = [];
    for (let offset = 0; offset < clip.samples.length; offset += samplesPerFrame) {
      const data = new Int16Array(samplesPerFrame); // the last frame is padded with silence
      data.set(clip.samples.subarray(offset, Math.min(offset + samplesPerFrame, clip.samples.length)));
      frames.push(new AudioFrame(data, clip.sampleRate, 1, samplesPerFrame));
    }
    byFrame.set(samplesPerFrame, frames);
  }
  return frames;
}

/**
 * A benchmark caller over real WebRTC, like e2e's ScriptedCaller but with an honest clock for latency:
 *
 * - The microphone keeps the native send queue shallow (≤ 2 frames). ScriptedCaller paces with timers and catches
 *   up after a late tick by sending a burst; rtc-node's AudioSource queues up to 1 s, so on a loaded machine every
 *   burst adds latency that never drains, and "end of speech" (the moment the frame was queued) can be hundreds of
 *   ms before the audio really leaves. Here a late tick becomes a short microphone dropout instead, and the end of
 *   speech is stamped when it leaves the queue: capture time + queued duration + offset within the frame.
 * - The event-loop delay of this process is tracked: with many callers in one process a late loop delays the
 *   receive timestamps too, and the report says how much.
 * - Cheap enough to run many in one process (issue 16): frames cut once per clip and reused (silence is one
 *   shared frame), 20 ms frames both ways, and the agent's audio read at the caller's rate with an onset check
 *   that works on 10 ms blocks (the same "heard" criterion and timing as 10 ms frames, see AgentSpeech).
 */
export class BenchCaller {
  readonly room = new Room();
  readonly #agent = new AgentSpeech();
  readonly sampleRate: number;
  readonly frameMs: number;
  readonly #samplesPerFrame: number;
  readonly #silence: AudioFrame;
  /** Microphone audio not sent in time, in 10 ms units whatever the frame (the caller's own event loop was late). */
  micDropouts = 0;
  /** When the agent's audio track was subscribed (the agent has joined and published). */
  agentTrackAt = 0;
  #source: AudioSource;
  #listening: Promise<void> | undefined;
  #pumping = false;
  #loopDelayHeld = false;
  #clip:
    | {
        frames: AudioFrame[];
        index: number;
        speechEndSample: number;
        speechEndedAt: number;
        done: (t: number) => void;
      }
    | undefined;

  constructor(options: BenchCallerOptions = {}) {
    this.sampleRate = options.sampleRate ?? 48_000;
    this.frameMs = options.frameMs ?? 20;
    this.#samplesPerFrame = (this.sampleRate * this.frameMs) / 1000;
    if (!Number.isInteger(this.#samplesPerFrame)) throw new Error('frame length must be whole samples');
    this.#silence = new AudioFrame(
      new Int16Array(this.#samplesPerFrame),
      this.sampleRate,
      1,
      this.#samplesPerFrame,
    );
    this.#source = new AudioSource(this.sampleRate, 1, 1000);
  }

  /** The process's event-loop delay (shared by all callers). */
  get loopDelay(): { percentile(p: number): number } {
    return loopDelay;
  }

  async join(url: string, token: string): Promise<void> {
    if (loopDelayUsers++ === 0) {
      loopDelay.reset();
      loopDelay.enable();
    }
    this.#loopDelayHeld = true;
    this.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
      if (track.kind === TrackKind.KIND_AUDIO && !this.#listening) {
        this.agentTrackAt = Date.now();
        this.#listening = this.#agent.listen(track, this.sampleRate, this.frameMs);
      }
    });
    await this.room.connect(url, token, { autoSubscribe: true, dynacast: false });
    const track = LocalAudioTrack.createAudioTrack('microphone', this.#source);
    const options = new TrackPublishOptions();
    options.source = TrackSource.SOURCE_MICROPHONE;
    await this.room.localParticipant?.publishTrack(track, options);
    this.#pumping = true;
    void this.#pump();
  }

  /** Every segment of agent speech heard so far, in order. */
  get heard(): readonly HeardSegment[] {
    return this.#agent.segments;
  }

  waitForSpeech(afterMs: number, timeoutMs?: number): Promise<HeardSegment> {
    return this.#agent.waitForSpeech(afterMs, timeoutMs);
  }

  waitForQuiet(quietMs?: number, timeoutMs?: number): Promise<void> {
    return this.#agent.waitForQuiet(quietMs, timeoutMs);
  }

  /** Speaks a clip in real time; resolves after the clip (with its trailing silence) with the end-of-speech time. */
  speak(clip: SpeechClip): Promise<number> {
    if (clip.sampleRate !== this.sampleRate)
      throw new Error(`clip is ${clip.sampleRate} Hz, this caller speaks at ${this.sampleRate} Hz`);
    const speechEndSample = Math.round(
      (clip.utterances.at(-1)?.end ?? clip.durationSeconds) * this.sampleRate,
    );
    const frames = renderClip(clip, this.#samplesPerFrame);
    return new Promise((resolve) => {
      this.#clip = { frames, index: 0, speechEndSample, speechEndedAt: 0, done: resolve };
    });
  }

  async #pump(): Promise<void> {
    const frameMs = this.frameMs;
    const perFrame = this.#samplesPerFrame;
    let next = performance.now();
    while (this.#pumping) {
      const now = performance.now();
      if (now - next > frameMs * 2) {
        // Late by more than two frames: skip them (a dropout) rather than queue a burst that adds latency.
        const missed = Math.floor((now - next) / frameMs);
        this.micDropouts += (missed * frameMs) / 10;
        next += missed * frameMs;
      }
      let frame = this.#silence;
      const clip = this.#clip;
      if (clip) {
        const queuedMs = this.#source.queuedDuration;
        frame = clip.frames[clip.index] ?? this.#silence;
        const frameStart = clip.index * perFrame;
        clip.index += 1;
        const frameEnd = clip.index * perFrame;
        if (!clip.speechEndedAt && frameEnd >= clip.speechEndSample) {
          // The end of speech leaves the microphone after what is queued ahead of it plus its place in this frame.
          const withinFrameMs = ((clip.speechEndSample - frameStart) / this.sampleRate) * 1000;
          clip.speechEndedAt = Date.now() + queuedMs + withinFrameMs;
        }
        if (clip.index >= clip.frames.length) {
          this.#clip = undefined;
          clip.done(clip.speechEndedAt || Date.now());
        }
      }
      try {
        await this.#source.captureFrame(frame);
      } catch {
        return; // source closed
      }
      next += frameMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }

  async hangUp(): Promise<void> {
    this.#pumping = false;
    if (this.#loopDelayHeld) {
      this.#loopDelayHeld = false;
      if (--loopDelayUsers === 0) loopDelay.disable();
    }
    await this.room.disconnect();
    await this.#source.close();
  }
}
