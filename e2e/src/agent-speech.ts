import { type AudioFrame, AudioStream, type RemoteTrack } from '@livekit/rtc-node';

/** Agent audio louder than this (full-scale RMS) counts as speech heard. */
export const HEARD_RMS = 0.01;
/** Quiet longer than this starts a new segment (sentences within one reply pause less). */
const SEGMENT_GAP_MS = 600;

export interface HeardSegment {
  /** Epoch ms of the first loud frame. */
  startedAt: number;
  /** Epoch ms of the last loud frame (updated while it lasts). */
  lastLoudAt: number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-scale RMS of a frame of 16-bit samples. */
export function frameRms(frame: AudioFrame): number {
  let sum = 0;
  for (const s of frame.data) sum += (s / 32_768) ** 2;
  return Math.sqrt(sum / Math.max(1, frame.data.length));
}

/**
 * What a caller hears of the agent: the agent's audio track, read in real time, as segments of loud audio with
 * their times. Shared by the e2e caller and the benchmark caller, so both judge "heard" the same way.
 */
export class AgentSpeech {
  readonly segments: HeardSegment[] = [];

  /** Reads the track until it ends, recording loud segments. */
  async listen(track: RemoteTrack, sampleRate: number): Promise<void> {
    for await (const frame of new AudioStream(track, { sampleRate, numChannels: 1 })) {
      if (frameRms(frame) <= HEARD_RMS) continue;
      const now = Date.now();
      const last = this.segments.at(-1);
      if (last && now - last.lastLoudAt < SEGMENT_GAP_MS) last.lastLoudAt = now;
      else this.segments.push({ startedAt: now, lastLoudAt: now });
    }
  }

  /** Resolves with the first segment of agent speech that starts after `afterMs` (epoch). */
  async waitForSpeech(afterMs: number, timeoutMs = 20_000): Promise<HeardSegment> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seg = this.segments.find((s) => s.startedAt > afterMs);
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
      const last = this.segments.at(-1);
      if (!last || Date.now() - last.lastLoudAt >= quietMs) return;
      if (Date.now() > deadline) throw new Error('agent kept talking');
      await sleep(50);
    }
  }
}
