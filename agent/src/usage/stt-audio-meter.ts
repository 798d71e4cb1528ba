import type { AudioFrame } from '@livekit/rtc-node';
import { STT_CHUNK_MS } from '../pipeline/voice-agent.ts';

/**
 * Measures the audio seconds the Deepgram plugin actually streams (what Deepgram bills). The plugin, as patched
 * (patches/), re-chunks input into STT_CHUNK_MS (20 ms) messages and drops one when it is quiet (RMS ≤ 0.004) and
 * more than 1 s has passed since the last loud one; we apply the same rule to the same chunks instead of trusting
 * Deepgram's metrics, which report only per 5 s sent and so miss the tail of every call. The rule runs per chunk,
 * so the chunk size matters: at 100 ms a quiet chunk hides up to 100 ms of a loud start, at 20 ms only 20.
 * agent/test/unit/stt-wire-chunks.test.ts checks the count against what the Deepgram stand-in received.
 */
export class SttAudioMeter {
  static readonly RMS_THRESHOLD = 4e-3;
  static readonly COOLDOWN_SECONDS = 1;
  #seconds = 0;
  #cooldown = SttAudioMeter.COOLDOWN_SECONDS;
  #carry: Int16Array | undefined;
  #carryRate = 0;

  get seconds(): number {
    return this.#seconds;
  }

  /** Feeds one input frame; returns the seconds that count as sent (for incremental reporting). */
  push(frame: Pick<AudioFrame, 'data' | 'sampleRate' | 'channels' | 'samplesPerChannel'>): number {
    const chunkSamples = Math.floor((frame.sampleRate * STT_CHUNK_MS) / 1000) * frame.channels;
    let data = frame.data;
    if (this.#carry && this.#carryRate === frame.sampleRate) {
      const joined = new Int16Array(this.#carry.length + data.length);
      joined.set(this.#carry);
      joined.set(data, this.#carry.length);
      data = joined;
    }
    this.#carry = undefined;
    let counted = 0;
    let offset = 0;
    for (; offset + chunkSamples <= data.length; offset += chunkSamples) {
      counted += this.#chunk(data.subarray(offset, offset + chunkSamples), frame.sampleRate, frame.channels);
    }
    if (offset < data.length) {
      this.#carry = data.slice(offset);
      this.#carryRate = frame.sampleRate;
    }
    this.#seconds += counted;
    return counted;
  }

  #chunk(samples: Int16Array, sampleRate: number, channels: number): number {
    const duration = samples.length / channels / sampleRate;
    let sum = 0;
    for (const s of samples) sum += (s / 32768) ** 2;
    const rms = Math.sqrt(sum / samples.length);
    if (rms > SttAudioMeter.RMS_THRESHOLD) {
      this.#cooldown = SttAudioMeter.COOLDOWN_SECONDS;
      return duration;
    }
    this.#cooldown -= duration;
    return this.#cooldown > 0 ? duration : 0;
  }
}
