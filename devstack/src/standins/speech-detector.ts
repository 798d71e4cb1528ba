/**
 * Energy-based speech detection over fixed frames, the way the Deepgram stand-in "hears" audio. It is shared
 * with the speech fixtures so a clip's measured speech duration matches what the stand-in measures.
 *
 * Speech starts after `minSpeechMs` of consecutive voiced frames (RMS above the threshold) and ends after
 * `minSilenceMs` of consecutive unvoiced frames: the hangover that keeps pauses between words and sentences
 * (espeak-ng pauses ~0.35 s at a full stop) inside one utterance.
 */
export interface SpeechDetectorOptions {
  /** RMS in full scale (0..1) above which a frame counts as voiced. 0.01 ≈ -40 dBFS. */
  thresholdRms: number;
  frameMs: number;
  minSpeechMs: number;
  minSilenceMs: number;
  /**
   * The Deepgram stand-in's shortest endpoint with `endpointing=N`: it ends an utterance after max(N, this) of
   * silence (see ENDPOINTING_FLOOR_MS in deepgram.ts). Lower it only for speech whose fluent gaps are shorter.
   */
  endpointingFloorMs: number;
}

export const DEFAULT_SPEECH_DETECTOR: SpeechDetectorOptions = {
  thresholdRms: 0.01,
  frameMs: 20,
  minSpeechMs: 40,
  minSilenceMs: 500,
  endpointingFloorMs: 250,
};

export type SpeechEvent =
  | { type: 'speech_start' /** stream seconds of the first voiced frame */; at: number }
  | {
      type: 'speech_end';
      /** stream seconds of the first voiced frame */
      start: number;
      /** stream seconds where the last voiced frame ended */
      end: number;
      /** seconds of voiced frames inside the utterance */
      voicedSeconds: number;
    };

/** Frame-by-frame detector. Feed mono samples in any chunk size; it keeps the partial frame between calls. */
export class SpeechDetector {
  readonly options: SpeechDetectorOptions;
  readonly #frameSamples: number;
  readonly #sampleRate: number;
  // running sum of squares and sample count of the frame being filled
  #frameEnergy = 0;
  #frameFill = 0;
  #framesSeen = 0;
  #voicedRun = 0;
  #silentRun = 0;
  #inSpeech = false;
  #speechStart = 0;
  #lastVoicedEnd = 0;
  #voicedFrames = 0;

  constructor(sampleRate: number, options: Partial<SpeechDetectorOptions> = {}) {
    this.options = { ...DEFAULT_SPEECH_DETECTOR, ...options };
    this.#sampleRate = sampleRate;
    this.#frameSamples = Math.max(1, Math.round((sampleRate * this.options.frameMs) / 1000));
  }

  get inSpeech(): boolean {
    return this.#inSpeech;
  }
  /** Stream seconds processed so far (whole frames). */
  get streamSeconds(): number {
    return (this.#framesSeen * this.#frameSamples) / this.#sampleRate;
  }
  /** Start of the current utterance in stream seconds (meaningful while inSpeech). */
  get speechStart(): number {
    return this.#speechStart;
  }
  get lastVoicedEnd(): number {
    return this.#lastVoicedEnd;
  }
  /** Voiced seconds of the current utterance so far. */
  get voicedSeconds(): number {
    return (this.#voicedFrames * this.#frameSamples) / this.#sampleRate;
  }
  /** Silence needed to end an utterance, in frames (minSilenceMs may be raised per stream, e.g. endpointing). */
  #silenceFrames(minSilenceMs: number): number {
    return Math.max(1, Math.ceil(minSilenceMs / this.options.frameMs));
  }

  /**
   * Processes samples; returns the events the completed frames produced. `minSilenceMs` overrides the option
   * for this call (a stream's endpointing setting may ask for more silence than the default hangover).
   */
  push(samples: ArrayLike<number>, minSilenceMs = this.options.minSilenceMs): SpeechEvent[] {
    const events: SpeechEvent[] = [];
    const speechFrames = Math.max(1, Math.ceil(this.options.minSpeechMs / this.options.frameMs));
    const silenceFrames = this.#silenceFrames(minSilenceMs);
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]! / 32768;
      this.#frameEnergy += v * v;
      this.#frameFill++;
      if (this.#frameFill < this.#frameSamples) continue;
      const voiced = Math.sqrt(this.#frameEnergy / this.#frameFill) > this.options.thresholdRms;
      this.#frameEnergy = 0;
      this.#frameFill = 0;
      this.#framesSeen++;
      const frameEnd = this.streamSeconds;
      if (voiced) {
        this.#voicedRun++;
        this.#silentRun = 0;
        if (this.#inSpeech) {
          this.#voicedFrames++;
          this.#lastVoicedEnd = frameEnd;
        } else if (this.#voicedRun >= speechFrames) {
          this.#inSpeech = true;
          this.#speechStart = frameEnd - (this.#voicedRun * this.#frameSamples) / this.#sampleRate;
          this.#voicedFrames = this.#voicedRun;
          this.#lastVoicedEnd = frameEnd;
          events.push({ type: 'speech_start', at: this.#speechStart });
        }
      } else {
        this.#voicedRun = 0;
        this.#silentRun++;
        if (this.#inSpeech && this.#silentRun >= silenceFrames) {
          events.push(this.#end());
        }
      }
    }
    return events;
  }

  /** Ends the current utterance now (Finalize/CloseStream); undefined when not in speech. */
  flush(): SpeechEvent | undefined {
    return this.#inSpeech ? this.#end() : undefined;
  }

  #end(): SpeechEvent {
    this.#inSpeech = false;
    return {
      type: 'speech_end',
      start: this.#speechStart,
      end: this.#lastVoicedEnd,
      voicedSeconds: this.voicedSeconds,
    };
  }
}

/** RMS of 16-bit samples in full scale. */
export function frameRms(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]! / 32768;
    sum += v * v;
  }
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length);
}

/** Utterances in a whole clip, as the Deepgram stand-in would detect them with the same options. */
export function detectUtterances(
  samples: ArrayLike<number>,
  sampleRate: number,
  options: Partial<SpeechDetectorOptions> = {},
): Array<Extract<SpeechEvent, { type: 'speech_end' }>> {
  const detector = new SpeechDetector(sampleRate, options);
  const ends = detector.push(samples).filter((e) => e.type === 'speech_end');
  const last = detector.flush();
  if (last?.type === 'speech_end') ends.push(last);
  return ends as Array<Extract<SpeechEvent, { type: 'speech_end' }>>;
}
