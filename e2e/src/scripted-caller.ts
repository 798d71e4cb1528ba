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
import { AgentSpeech, type HeardSegment, sleep } from './agent-speech.ts';
import { resample } from './resample.ts';

export interface ScriptedCallerOptions {
  /**
   * Sample rate of the microphone and of the agent's audio as this caller reads it (default 48 kHz). WebRTC runs
   * Opus at 48 kHz either way; a lower rate here means less audio through the FFI and through JS per frame (the
   * native side resamples), which is most of a caller's cost in this process.
   */
  sampleRate?: number;
  /** Frame length both ways (default 20 ms): every frame is an FFI request or event, with a protobuf each. */
  frameMs?: number;
}

/** What `speak` needs of a clip: its audio, at any rate, and where its speech ends. */
export type CallerClip = Pick<SpeechClip, 'samples' | 'sampleRate' | 'utterances'>;

/**
 * One event-loop delay histogram for the whole process: every caller runs on the same loop, and a histogram per
 * caller meant one more 10 ms timer per caller.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let loopDelayUsers = 0;

/**
 * Microphone frames cut from a clip once per caller rate and frame length (resampled first if the clip is at
 * another rate): captureFrame hands rtc-node a pointer to the frame's whole buffer, so frames are reused as is.
 */
const renderedClips = new WeakMap<CallerClip, Map<string, AudioFrame[]>>();

function renderClip(clip: CallerClip, sampleRate: number, samplesPerFrame: number): AudioFrame[] {
  let byFormat = renderedClips.get(clip);
  if (!byFormat) {
    byFormat = new Map();
    renderedClips.set(clip, byFormat);
  }
  const key = `${sampleRate}/${samplesPerFrame}`;
  let frames = byFormat.get(key);
  if (!frames) {
    const samples =
      clip.sampleRate === sampleRate ? clip.samples : resample(clip.samples, clip.sampleRate, sampleRate);
    frames = [];
    for (let offset = 0; offset < samples.length; offset += samplesPerFrame) {
      const data = new Int16Array(samplesPerFrame); // the last frame is padded with silence
      data.set(samples.subarray(offset, Math.min(offset + samplesPerFrame, samples.length)));
      frames.push(new AudioFrame(data, sampleRate, 1, samplesPerFrame));
    }
    byFormat.set(key, frames);
  }
  return frames;
}

/**
 * The caller of the e2e tests and of the benchmark (one caller, so e2e latency figures are taken on the
 * benchmark's clock): a participant over real WebRTC (@livekit/rtc-node) that publishes a microphone fed from
 * speech clips in real time, and listens to the agent's audio, recording when it is heard (AgentSpeech).
 *
 * - The microphone keeps the native send queue shallow (≤ 2 frames). Pacing with timers and catching up after a
 *   late tick with a burst (what the e2e caller once did) is wrong under load: rtc-node's AudioSource queues up to
 *   1 s, so every burst adds latency that never drains, and "end of speech" stamped when its frame was queued can
 *   be hundreds of ms before the audio really leaves. Here a late tick becomes a short microphone dropout instead
 *   (counted in `micDropouts`), and the end of speech is stamped when it leaves the queue: capture time + queued
 *   duration + offset within the frame.
 * - The event-loop delay of this process is tracked: with many callers in one process a late loop delays the
 *   receive timestamps too, and the benchmark reports how much.
 * - Cheap enough to run many in one process (issue 16): frames cut once per clip and reused, nothing sent from
 *   JS between clips (rtc-node's native source sends the silence), 20 ms frames both ways, and the agent's audio
 *   read at the caller's rate with an onset check that works on 10 ms blocks (the same "heard" criterion and
 *   timing as 10 ms frames, see AgentSpeech).
 */
export class ScriptedCaller {
  readonly room = new Room();
  readonly #agent = new AgentSpeech();
  readonly sampleRate: number;
  readonly frameMs: number;
  readonly #samplesPerFrame: number;
  /**
   * Speech not sent in time, in 10 ms units whatever the frame (the caller's own event loop was late while a clip
   * played: the native source filled the gap with silence).
   */
  micDropouts = 0;
  /** When the agent's audio track was subscribed (the agent has joined and published). */
  agentTrackAt = 0;
  #source: AudioSource;
  #listening: Promise<void> | undefined;
  #pumping = false;
  #pumpRunning = false;
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

  constructor(options: ScriptedCallerOptions = {}) {
    this.sampleRate = options.sampleRate ?? 48_000;
    this.frameMs = options.frameMs ?? 20;
    this.#samplesPerFrame = (this.sampleRate * this.frameMs) / 1000;
    if (!Number.isInteger(this.#samplesPerFrame)) throw new Error('frame length must be whole samples');
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
  }

  /** Every segment of agent speech heard so far, in order. */
  get heard(): readonly HeardSegment[] {
    return this.#agent.segments;
  }

  /** Resolves with the first segment of agent speech that starts after `afterMs` (epoch). */
  waitForSpeech(afterMs: number, timeoutMs?: number): Promise<HeardSegment> {
    return this.#agent.waitForSpeech(afterMs, timeoutMs);
  }

  /** Resolves once the agent has been quiet for `quietMs`. */
  waitForQuiet(quietMs?: number, timeoutMs?: number): Promise<void> {
    return this.#agent.waitForQuiet(quietMs, timeoutMs);
  }

  /**
   * Speaks a clip (at any rate: resampled once to this caller's) in real time, after the microphone's silence.
   * Resolves after the clip, with its trailing silence, with the epoch ms its last voiced sample left the
   * microphone: the reference for voice-to-voice latency.
   */
  speak(clip: CallerClip): Promise<number> {
    const speechEndSeconds = clip.utterances.at(-1)?.end ?? clip.samples.length / clip.sampleRate;
    const speechEndSample = Math.round(speechEndSeconds * this.sampleRate);
    const frames = renderClip(clip, this.sampleRate, this.#samplesPerFrame);
    if (!frames.length) return Promise.resolve(Date.now());
    return new Promise((resolve) => {
      this.#clip = { frames, index: 0, speechEndSample, speechEndedAt: 0, done: resolve };
      if (this.#pumping && !this.#pumpRunning) void this.#pump();
    });
  }

  /**
   * The microphone, while a clip plays: one frame per frame length. Between clips it sends nothing from here:
   * rtc-node's native source sends a 10 ms frame of silence on its own clock whenever its queue is empty (so the
   * track stays a live microphone, RTP time runs on), which spares this process a timer and an FFI request per
   * frame of silence.
   */
  async #pump(): Promise<void> {
    this.#pumpRunning = true;
    try {
      await this.#sendClips();
    } finally {
      this.#pumpRunning = false;
    }
  }

  async #sendClips(): Promise<void> {
    const frameMs = this.frameMs;
    const perFrame = this.#samplesPerFrame;
    let next = performance.now();
    while (this.#pumping && this.#clip) {
      const now = performance.now();
      if (now - next > frameMs * 2) {
        // Late by more than two frames: skip them (a dropout) rather than queue a burst that adds latency.
        const missed = Math.floor((now - next) / frameMs);
        this.micDropouts += (missed * frameMs) / 10;
        next += missed * frameMs;
      }
      const clip = this.#clip;
      const queuedMs = this.#source.queuedDuration;
      const frame = clip.frames[clip.index] as AudioFrame;
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
