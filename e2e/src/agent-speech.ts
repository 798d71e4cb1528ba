import { type AudioFrame, AudioStream, type RemoteTrack } from '@livekit/rtc-node';

/** Agent audio louder than this (full-scale RMS) counts as speech heard. */
export const HEARD_RMS = 0.01;
/** Quiet longer than this starts a new segment (sentences within one reply pause less). */
const SEGMENT_GAP_MS = 600;
/** The participant attribute in which LiveKit agents publish their state (listening, thinking, speaking, …). */
export const AGENT_STATE_ATTRIBUTE = 'lk.agent.state';

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
 *
 * A segment ends after SEGMENT_GAP_MS of quiet, or when the agent started speaking again: its `lk.agent.state`
 * attribute went from something else (listening, thinking) to speaking after the segment began. So a reply that
 * stops late and the next one 200-300 ms later are two segments, not one (the gap alone merged them), and so are
 * the two halves of a reply paused by the caller and resumed. The agent sets "speaking" as the reply's first frame
 * goes to its audio source; the attribute comes over signalling, the audio over RTP through the caller's jitter
 * buffer, so the change normally arrives first. Should it arrive after the new reply's first sound, the new
 * segment starts that much late; without the attribute (another kind of agent) only the gap splits segments.
 */
export class AgentSpeech {
  readonly segments: HeardSegment[] = [];
  #state: string | undefined;
  /** How many times the agent went to "speaking" from another state; the last segment's count when it began. */
  #speakingTurns = 0;
  #lastSegmentTurn = 0;

  /** The agent's state attribute as the caller receives it (undefined: not published yet). */
  agentState(state: string | undefined): void {
    if (state === undefined || state === this.#state) return;
    if (state === 'speaking') this.#speakingTurns += 1;
    this.#state = state;
  }

  /**
   * Reads the track until it ends, recording loud segments. Loudness is judged per 10 ms block whatever the frame
   * length (`frameSizeMs`, default rtc-node's 10 ms): a frame arrives when its last sample has, so a loud block
   * is stamped at the frame's arrival minus the audio after that block, the same time a 10 ms frame would have
   * arrived with it. Longer frames mean fewer FFI events and stream reads for a caller that only needs onsets.
   */
  async listen(track: RemoteTrack, sampleRate: number, frameSizeMs?: number): Promise<void> {
    const block = sampleRate / 100;
    // RMS > HEARD_RMS over a block ⇔ its sum of squares (16-bit units) exceeds this; no division per sample.
    const loudSumOfSquares = (HEARD_RMS * 32_768) ** 2 * block;
    const options = { sampleRate, numChannels: 1, ...(frameSizeMs ? { frameSizeMs } : {}) };
    for await (const frame of new AudioStream(track, options)) {
      const data = frame.data;
      const arrivedAt = Date.now();
      for (let start = 0; start + block <= data.length; start += block) {
        let sum = 0;
        for (let i = start; i < start + block; i++) {
          const s = data[i] as number;
          sum += s * s;
        }
        if (sum <= loudSumOfSquares) continue;
        const at = arrivedAt - Math.round(((data.length - start - block) / sampleRate) * 1000);
        const last = this.segments.at(-1);
        if (last && at - last.lastLoudAt < SEGMENT_GAP_MS && this.#lastSegmentTurn === this.#speakingTurns)
          last.lastLoudAt = Math.max(last.lastLoudAt, at);
        else {
          this.segments.push({ startedAt: at, lastLoudAt: at });
          this.#lastSegmentTurn = this.#speakingTurns;
        }
      }
    }
  }

  /** Resolves with the first segment of agent speech that starts after `afterMs` (epoch). */
  waitForSpeech(afterMs: number, timeoutMs = 20_000): Promise<HeardSegment> {
    return firstSegmentAfter(() => this.segments, afterMs, timeoutMs);
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

/**
 * Resolves with the first heard segment that starts after `afterMs` (epoch), polling `segments` (a caller appends
 * to it as audio arrives); rejects after `timeoutMs` with the time waited from.
 */
export async function firstSegmentAfter(
  segments: () => readonly HeardSegment[],
  afterMs: number,
  timeoutMs: number,
): Promise<HeardSegment> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seg = segments().find((s) => s.startedAt > afterMs);
    if (seg) return seg;
    if (Date.now() > deadline)
      throw new Error(`no agent speech heard after ${new Date(afterMs).toISOString()}`);
    await sleep(20);
  }
}
