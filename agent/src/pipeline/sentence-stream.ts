import { type APIConnectOptions, tts } from '@livekit/agents';

/**
 * One sentence synthesised by one of our speech engines, whose failure can reach the stream's reader.
 *
 * agents 1.9's ChunkedStream reports a failed synthesis only as an `error` event on its engine: its reader sees the
 * audio end as if it were complete. The failover adapter (tts.FallbackAdapter) reads engines that way, so an engine
 * that broke off after some audio counted as having spoken the sentence, and the rest of it was never heard. With
 * `surfaceFailures`, the reader gets the error once the audio that did arrive has been read, and the adapter speaks
 * the sentence again with the next engine. Without it (a single engine), the reader sees the stream end, as before.
 */
export abstract class SentenceStream extends tts.ChunkedStream {
  readonly #surfaceFailures: boolean;
  #failure: unknown;

  constructor(
    text: string,
    engine: tts.TTS,
    surfaceFailures: boolean,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, engine, connOptions, abortSignal);
    this.#surfaceFailures = surfaceFailures;
  }

  /** Synthesises the sentence into `this.queue`; throws the framework's errors (see ChunkedStream.run). */
  protected abstract speak(): Promise<void>;

  protected override async run(): Promise<void> {
    this.#failure = undefined; // a retry starts afresh
    try {
      await this.speak();
    } catch (error) {
      this.#failure = error;
      throw error;
    }
  }

  override async next(): Promise<IteratorResult<tts.SynthesizedAudio>> {
    const result = await super.next();
    if (result.done && this.#surfaceFailures && this.#failure !== undefined && !this.abortSignal.aborted) {
      const failure = this.#failure;
      this.#failure = undefined;
      throw failure;
    }
    return result;
  }
}
