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

const SAMPLE_RATE = 48_000;
const FRAME_MS = 10;
const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;

/**
 * A benchmark caller over real WebRTC, like e2e's ScriptedCaller but with an honest clock for latency:
 *
 * - The microphone keeps the native send queue shallow (≤ 20 ms). ScriptedCaller paces with timers and catches
 *   up after a late tick by sending a burst; rtc-node's AudioSource queues up to 1 s, so on a loaded machine every
 *   burst adds latency that never drains, and "end of speech" (the moment the frame was queued) can be hundreds of
 *   ms before the audio really leaves. Here a late tick becomes a short microphone dropout instead, and the end of
 *   speech is stamped when it leaves the queue: capture time + queued duration + offset within the frame.
 * - The event-loop delay of this process is tracked: with many callers in one process a late loop delays the
 *   receive timestamps too, and the report says how much.
 */
export class BenchCaller {
  readonly room = new Room();
  readonly #agent = new AgentSpeech();
  readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** 10 ms microphone frames not sent in time (the caller's own event loop was late). */
  micDropouts = 0;
  /** When the agent's audio track was subscribed (the agent has joined and published). */
  agentTrackAt = 0;
  #source = new AudioSource(SAMPLE_RATE, 1, 1000);
  #listening: Promise<void> | undefined;
  #pumping = false;
  #clip:
    | {
        samples: Int16Array;
        offset: number;
        speechEndSample: number;
        speechEndedAt: number;
        done: (t: number) => void;
      }
    | undefined;

  async join(url: string, token: string): Promise<void> {
    this.loopDelay.enable();
    this.room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
      if (track.kind === TrackKind.KIND_AUDIO && !this.#listening) {
        this.agentTrackAt = Date.now();
        this.#listening = this.#agent.listen(track, SAMPLE_RATE);
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
    if (clip.sampleRate !== SAMPLE_RATE) throw new Error('bench clips are 48 kHz');
    const speechEndSample = Math.round((clip.utterances.at(-1)?.end ?? clip.durationSeconds) * SAMPLE_RATE);
    return new Promise((resolve) => {
      this.#clip = { samples: clip.samples, offset: 0, speechEndSample, speechEndedAt: 0, done: resolve };
    });
  }

  async #pump(): Promise<void> {
    let next = performance.now();
    while (this.#pumping) {
      const now = performance.now();
      if (now - next > FRAME_MS * 2) {
        // Late by more than two frames: skip them (a dropout) rather than queue a burst that adds latency.
        const missed = Math.floor((now - next) / FRAME_MS);
        this.micDropouts += missed;
        next += missed * FRAME_MS;
      }
      const chunk = new Int16Array(FRAME_SAMPLES);
      const clip = this.#clip;
      const queuedMs = this.#source.queuedDuration;
      if (clip) {
        chunk.set(
          clip.samples.subarray(clip.offset, Math.min(clip.offset + FRAME_SAMPLES, clip.samples.length)),
        );
        const frameStart = clip.offset;
        clip.offset += FRAME_SAMPLES;
        if (!clip.speechEndedAt && clip.offset >= clip.speechEndSample) {
          // The end of speech leaves the microphone after what is queued ahead of it plus its place in this frame.
          const withinFrameMs = ((clip.speechEndSample - frameStart) / SAMPLE_RATE) * 1000;
          clip.speechEndedAt = Date.now() + queuedMs + withinFrameMs;
        }
        if (clip.offset >= clip.samples.length) {
          this.#clip = undefined;
          const ended = clip.speechEndedAt || Date.now();
          clip.done(ended);
        }
      }
      try {
        await this.#source.captureFrame(new AudioFrame(chunk, SAMPLE_RATE, 1, FRAME_SAMPLES));
      } catch {
        return; // source closed
      }
      next += FRAME_MS;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }

  async hangUp(): Promise<void> {
    this.#pumping = false;
    this.loopDelay.disable();
    await this.room.disconnect();
    await this.#source.close();
  }
}
