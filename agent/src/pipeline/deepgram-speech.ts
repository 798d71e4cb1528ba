import { APIConnectionError, type APIConnectOptions, APIError, APITimeoutError, tts } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import type { SpeechObserver } from '../usage/speech-usage.ts';
import { replySentenceTokenizer } from './openai-speech.ts';
import { SentenceStream } from './sentence-stream.ts';
import { SpeechSlots } from './speech-slots.ts';

/** Deepgram's linear16 at the rate the other engines use, so a failover needs no resampling. */
export const DEEPGRAM_SAMPLE_RATE = 24_000;
const DEFAULT_FIRST_AUDIO_TIMEOUT_MS = 10_000;

export interface DeepgramSpeechOptions {
  apiKey: string;
  /** Deepgram base URL (https://api.deepgram.com, or the STT's ws(s):// base: the plugin swaps the scheme). */
  baseUrl?: string;
  model: string;
  observer: SpeechObserver;
  /** A sentence that fails fails its reader too (set when a failover adapter reads this engine; see SentenceStream). */
  surfaceFailures?: boolean;
}

/**
 * Deepgram Aura speech through @livekit/agents-plugin-deepgram's TTS (its streaming WebSocket, /v1/speak), one
 * sentence at a time: `synthesize()` speaks one text over the plugin's stream (Speak, Flush, audio until Flushed).
 *
 * Why not the plugin's own `synthesize()`: it posts to /v1/speak over HTTPS with the port fixed at 443 (whatever the
 * base URL says) and fails with plain Errors the framework's failover does not recognise. Why one sentence at a time
 * rather than the plugin's stream for a whole reply: the failover between engines works per sentence (a reply
 * whose speech breaks off in the middle goes on with the next engine at the next sentence), and Deepgram limits
 * concurrent speech streams per account (15 on pay-as-you-go), so a call holds at most one.
 */
export class DeepgramSpeech extends tts.TTS {
  override label = 'deepgram.Speech';
  readonly #opts: DeepgramSpeechOptions;
  readonly #plugin: deepgram.TTS;
  readonly #slots = new SpeechSlots(1);
  readonly #sentences: tts.StreamAdapter;
  /** The plugin reports a failed stream as an `error` event on its TTS, not to the stream's reader. */
  #streamError: Error | undefined;

  constructor(opts: DeepgramSpeechOptions) {
    super(DEEPGRAM_SAMPLE_RATE, 1, { streaming: true, alignedTranscript: true });
    this.#opts = opts;
    this.#plugin = new deepgram.TTS({
      apiKey: opts.apiKey,
      model: opts.model,
      sampleRate: DEEPGRAM_SAMPLE_RATE,
      encoding: 'linear16',
      ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
    });
    this.#plugin.on('error', (event) => {
      this.#streamError = event.error;
    });
    this.#sentences = new tts.StreamAdapter(this, replySentenceTokenizer());
    this.#sentences.on('error', () => undefined);
  }

  override get model(): string {
    return this.#opts.model;
  }

  override get provider(): string {
    return 'Deepgram';
  }

  override synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    return new DeepgramSentence(this, text, this.#opts.surfaceFailures ?? false, connOptions, abortSignal);
  }

  override stream(options?: { connOptions?: APIConnectOptions }): tts.SynthesizeStream {
    return this.#sentences.stream(options);
  }

  override async close(): Promise<void> {
    await this.#sentences.close();
  }

  /** One sentence over the plugin's stream; frames go to `put` as they arrive. */
  async speak(
    text: string,
    put: (audio: tts.SynthesizedAudio) => void,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<void> {
    const release = await this.#slots.acquire(signal);
    if (!release) return;
    this.#streamError = undefined;
    const stream = this.#plugin.stream({ connOptions: { maxRetry: 0, retryIntervalMs: 0, timeoutMs } });
    let audio = false;
    let ended = false;
    let stalled = false;
    const stall = setTimeout(() => {
      stalled = true;
      stream.close();
    }, timeoutMs);
    const stop = () => stream.close();
    signal.addEventListener('abort', stop, { once: true });
    try {
      stream.pushText(text);
      stream.endInput();
      let last: tts.SynthesizedAudio | undefined;
      for await (const item of stream) {
        if (item === tts.SynthesizeStream.END_OF_STREAM) {
          ended = true;
          break;
        }
        if (!audio) {
          audio = true;
          clearTimeout(stall);
          // Deepgram bills the characters it was sent; it has them once audio comes back. The plugin sends the
          // sentence with a trailing space.
          const characters = text.endsWith(' ') ? text.length : text.length + 1;
          this.#opts.observer.usage({ provider: 'deepgram', model: this.#opts.model, characters });
        }
        if (last) put({ ...last, final: false });
        last = item;
      }
      if (last) put({ ...last, final: true });
    } finally {
      clearTimeout(stall);
      signal.removeEventListener('abort', stop);
      stream.close();
      release();
    }
    if (signal.aborted) return;
    if (stalled) {
      throw new APITimeoutError({
        message: `no audio from Deepgram within ${timeoutMs} ms`,
        options: { retryable: false },
      });
    }
    if (!ended) {
      const cause = this.#streamError as Error | undefined;
      if (cause instanceof APIError) {
        // Audio already played cannot be taken back: a retry would repeat it.
        throw audio
          ? new APIConnectionError({ message: cause.message, options: { retryable: false } })
          : cause;
      }
      throw new APIConnectionError({
        message: `Deepgram speech stream ended without finishing${cause ? `: ${cause.message}` : ''}`,
        options: { retryable: !audio },
      });
    }
    this.#opts.observer.spoken({ provider: 'deepgram', text, transcriptMismatch: false });
  }
}

class DeepgramSentence extends SentenceStream {
  override label = 'deepgram.Sentence';
  readonly #engine: DeepgramSpeech;
  readonly #timeoutMs: number;

  constructor(
    engine: DeepgramSpeech,
    text: string,
    surfaceFailures: boolean,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, engine, surfaceFailures, connOptions, abortSignal);
    this.#engine = engine;
    this.#timeoutMs = connOptions?.timeoutMs ?? DEFAULT_FIRST_AUDIO_TIMEOUT_MS;
  }

  protected override async speak(): Promise<void> {
    await this.#engine.speak(
      this.inputText,
      (audio) => this.queue.put(audio),
      this.abortSignal,
      this.#timeoutMs,
    );
  }
}
