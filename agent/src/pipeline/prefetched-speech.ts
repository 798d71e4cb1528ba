import { ReadableStream } from 'node:stream/web';
import type { APIConnectOptions, tts } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

/**
 * Speech synthesised ahead of the moment it is spoken. The greeting is known before the call starts, so its
 * synthesis runs while the job activates the session and joins the room, instead of after: the caller hears it
 * a TTS round trip sooner.
 *
 * Frames are buffered as they arrive and handed out as a stream, so playback can begin before synthesis ends.
 */
export class PrefetchedSpeech {
  readonly text: string;
  readonly #synthesis: tts.ChunkedStream;
  readonly #frames: AudioFrame[] = [];
  #finished = false;
  #failure: unknown;
  #wake: (() => void) | undefined;
  readonly #reading: Promise<void>;

  private constructor(text: string, synthesis: tts.ChunkedStream) {
    this.text = text;
    this.#synthesis = synthesis;
    this.#reading = this.#read();
  }

  /** Starts synthesising `text` now. */
  static start(engine: tts.TTS, text: string, connOptions?: APIConnectOptions): PrefetchedSpeech {
    return new PrefetchedSpeech(text, engine.synthesize(text, connOptions));
  }

  async #read(): Promise<void> {
    try {
      for await (const audio of this.#synthesis) {
        this.#frames.push(audio.frame);
        this.#notify();
      }
    } catch (error) {
      this.#failure = error;
    } finally {
      this.#finished = true;
      this.#notify();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /**
   * The audio as a stream once its first frame is in, or undefined if synthesis failed (or produced nothing)
   * or no frame arrived within `waitMs`. Undefined means: synthesise the text the usual way instead.
   */
  async audio(waitMs: number): Promise<ReadableStream<AudioFrame> | undefined> {
    const deadline = Date.now() + waitMs;
    while (this.#frames.length === 0 && !this.#finished) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#changed(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
    if (this.#frames.length === 0) {
      this.cancel();
      return undefined;
    }
    let next = 0;
    return new ReadableStream<AudioFrame>({
      pull: async (controller) => {
        while (next >= this.#frames.length && !this.#finished) await this.#changed();
        const frame = this.#frames[next];
        if (frame) {
          next++;
          controller.enqueue(frame);
        } else {
          controller.close();
        }
      },
      cancel: () => this.cancel(),
    });
  }

  /** Whether synthesis failed after it had started producing audio (the spoken audio was cut short). */
  get failure(): unknown {
    return this.#failure;
  }

  /** Stops synthesis (the request is aborted) if it is still running. */
  cancel(): void {
    if (!this.#finished) this.#synthesis.close();
  }

  /** Resolves when synthesis has ended (completed, failed or cancelled). */
  settled(): Promise<void> {
    return this.#reading;
  }
}
