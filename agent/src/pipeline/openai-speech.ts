import {
  APIConnectionError,
  type APIConnectOptions,
  APIStatusError,
  APITimeoutError,
  shortuuid,
  tokenize,
  tts,
} from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import OpenAI from 'openai';
import { IGNORE_SPEECH, type SpeechObserver } from '../usage/speech-usage.ts';
import { SentenceStream } from './sentence-stream.ts';

/** `response_format: pcm` is 24 kHz mono signed 16-bit little-endian. */
export const SPEECH_SAMPLE_RATE = 24_000;
/**
 * Audio is handed on in 50 ms frames as the response streams in: the first frame plays after 50 ms of audio has
 * arrived, and fewer, larger frames keep the per-frame cost of the audio path low.
 */
export const SPEECH_FRAME_SAMPLES = 1_200;

/**
 * Samples quieter than this at the start of a sentence's audio are not played: -60 dBFS is inaudible, and every
 * millisecond of lead-in silence is a millisecond the caller waits for the reply to start. The stand-in's speech
 * starts with 10 ms of digital silence; what the real API's lead-in is was not measured here.
 */
export const LEAD_SILENCE_THRESHOLD = 33;
/** Never trim more than this: audio that stays silent longer is passed on as it is. */
export const LEAD_SILENCE_MAX_MS = 250;

/**
 * How a reply's text is cut into speech requests (one per sentence, or a few short sentences together).
 *
 * The framework's default (the basic tokenizer with a 20-character minimum) joins a short first sentence ("Sure.")
 * to the next one, so the reply's first sound waited until Claude had written the second sentence as well.
 * Measured with tokens at 50/s (Claude's streaming rate is of that order): the first speech request went out
 * 324 ms after the first token for "Sure. That is a good question and the answer depends on the details.", and
 * 25 ms with this tokenizer. The first sentence now goes alone however short; later short sentences are still
 * joined up to 20 characters, as before (fewer requests, each with its own time to first byte).
 */
export function replySentenceTokenizer(): tokenize.SentenceTokenizer {
  return new tokenize.basic.SentenceTokenizer({
    minSentenceLength: 1,
    minTokenLength: 20,
    firstTokenLength: 1,
  });
}

export interface OpenAISpeechOptions {
  client: OpenAI;
  model: string;
  voice: string;
  speed?: number;
  instructions?: string;
  /** Where each request's usage is reported (characters, as OpenAI bills them). */
  observer?: SpeechObserver;
  /** A request that fails fails its reader too (set when a failover adapter reads this engine; see SentenceStream). */
  surfaceFailures?: boolean;
}

/**
 * OpenAI text-to-speech (`/v1/audio/speech`) for the voice pipeline, one request per sentence.
 *
 * Why not agents-plugin-openai's TTS (1.9): it waits for the WHOLE response body before emitting any audio, so
 * a sentence's full synthesis time sits in front of its first sound; it then splits the body with the
 * framework's AudioByteStream, which copies byte by byte (measured 16–110 ms of blocked event loop for a 3 s
 * sentence); and it sends the request once, outside the framework's retry loop. Here audio plays as it streams
 * in, frames are cut with plain buffer copies, and each attempt is its own request.
 *
 * The API takes whole texts, so a reply streaming in from Claude is cut into sentences first: `stream()` is the
 * framework's StreamAdapter with {@link replySentenceTokenizer}. It reports itself as streaming so the session uses
 * that stream instead of wrapping the engine in its own adapter with the default tokenizer.
 */
export class OpenAISpeech extends tts.TTS {
  override label = 'openai.Speech';
  /**
   * Each sentence is one HTTP request; `capabilities.streaming` is true only because `stream()` cuts sentences
   * itself. The usage meter bills the per-request reports (see UsageModels.ttsStreams).
   */
  readonly streamsNatively = false;
  readonly #opts: OpenAISpeechOptions;
  readonly #sentences: tts.StreamAdapter;

  constructor(opts: OpenAISpeechOptions) {
    super(SPEECH_SAMPLE_RATE, 1, { streaming: true });
    this.#opts = opts;
    // The adapter's streams are bound to this engine: their metrics and errors are emitted here, as they were
    // when the session wrapped the engine itself.
    this.#sentences = new tts.StreamAdapter(this, replySentenceTokenizer());
    // The adapter re-emits this engine's errors on itself, where nobody listens; an 'error' event without a
    // listener throws, and would throw inside this engine's own emit. Errors are read here, on the engine.
    this.#sentences.on('error', () => undefined);
  }

  override get model(): string {
    return this.#opts.model;
  }

  override get provider(): string {
    try {
      return new URL(this.#opts.client.baseURL).host;
    } catch {
      return 'api.openai.com';
    }
  }

  override synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    return new SpeechRequest(this, text, this.#opts, connOptions, abortSignal);
  }

  override stream(options?: { connOptions?: APIConnectOptions }): tts.SynthesizeStream {
    return this.#sentences.stream(options);
  }

  override async close(): Promise<void> {
    // Detaches the adapter's listeners from this engine.
    await this.#sentences.close();
  }
}

class SpeechRequest extends SentenceStream {
  override label = 'openai.SpeechRequest';
  readonly #opts: OpenAISpeechOptions;

  constructor(
    engine: OpenAISpeech,
    text: string,
    opts: OpenAISpeechOptions,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, engine, opts.surfaceFailures ?? false, connOptions, abortSignal);
    this.#opts = opts;
    this.#timeoutMs = connOptions?.timeoutMs;
  }

  readonly #timeoutMs: number | undefined;

  protected override async speak(): Promise<void> {
    const requestId = shortuuid();
    const observer = this.#opts.observer ?? IGNORE_SPEECH;
    // A request whose audio has not started within the connection timeout is given up (the failover's next
    // engine speaks the sentence); the SDK's own timeout (15 s) is for a hung connection.
    const stalled = new AbortController();
    const stallTimer =
      this.#timeoutMs !== undefined ? setTimeout(() => stalled.abort(), this.#timeoutMs) : undefined;
    const signal = AbortSignal.any([this.abortSignal, stalled.signal]);
    try {
      await this.#request(requestId, signal, stalled.signal, stallTimer, observer);
    } finally {
      clearTimeout(stallTimer);
    }
  }

  async #request(
    requestId: string,
    signal: AbortSignal,
    stalled: AbortSignal,
    stallTimer: NodeJS.Timeout | undefined,
    observer: SpeechObserver,
  ): Promise<void> {
    const timedOut = () =>
      new APITimeoutError({
        message: `no audio from the speech API within ${this.#timeoutMs} ms`,
        options: { retryable: false },
      });
    let body: AsyncIterable<Uint8Array>;
    try {
      const response = await this.#opts.client.audio.speech.create(
        {
          input: this.inputText,
          model: this.#opts.model,
          voice: this.#opts.voice,
          response_format: 'pcm',
          ...(this.#opts.speed !== undefined ? { speed: this.#opts.speed } : {}),
          ...(this.#opts.instructions ? { instructions: this.#opts.instructions } : {}),
        },
        { signal },
      );
      if (!response.body) throw new APIConnectionError({ message: 'speech response without a body' });
      body = response.body as unknown as AsyncIterable<Uint8Array>;
      // OpenAI bills the input characters of a request it answered.
      observer.usage({
        provider: 'openai-speech',
        model: this.#opts.model,
        characters: this.inputText.length,
      });
    } catch (error) {
      if (stalled.aborted) throw timedOut();
      if (signal.aborted) return;
      throw toFrameworkError(error);
    }

    const leadIn = new LeadingSilenceTrimmer(SPEECH_SAMPLE_RATE);
    const frames = new PcmFramer(SPEECH_SAMPLE_RATE, SPEECH_FRAME_SAMPLES);
    // One frame is held back so the last one can be marked final (the audio output waits for that mark).
    let held: AudioFrame | undefined;
    const pass = (frame: AudioFrame) => {
      if (held) this.queue.put({ requestId, segmentId: requestId, frame: held, final: false });
      held = frame;
    };
    try {
      for await (const chunk of body) {
        clearTimeout(stallTimer);
        for (const frame of frames.push(leadIn.push(chunk))) pass(frame);
      }
    } catch (error) {
      if (stalled.aborted && held === undefined) throw timedOut();
      if (signal.aborted) return;
      // Audio already played cannot be taken back: a retry would repeat it, so a cut stream is not retried.
      throw new APIConnectionError({
        message: `speech stream broke off: ${error instanceof Error ? error.message : String(error)}`,
        options: { retryable: held === undefined },
      });
    }
    const rest = frames.flush();
    if (rest) pass(rest);
    if (held) this.queue.put({ requestId, segmentId: requestId, frame: held, final: true });
    observer.spoken({ provider: 'openai-speech', text: this.inputText, transcriptMismatch: false });
  }
}

/**
 * The SDK has already retried what is worth retrying (429, 5xx, connection errors; it honours Retry-After), so
 * what reaches the framework is final for this attempt.
 */
function toFrameworkError(error: unknown): Error {
  if (error instanceof OpenAI.APIError && typeof error.status === 'number') {
    return new APIStatusError({
      message: `speech request failed: ${error.message}`,
      options: { statusCode: error.status, requestId: error.requestID ?? null, retryable: false },
    });
  }
  return new APIConnectionError({
    message: `speech request failed: ${error instanceof Error ? error.message : String(error)}`,
    options: { retryable: false },
  });
}

/** Cuts a stream of PCM s16le bytes (arbitrary chunk boundaries, even odd ones) into mono frames. */
export class PcmFramer {
  readonly #sampleRate: number;
  readonly #frameBytes: number;
  #pending: Buffer = Buffer.alloc(0);

  constructor(sampleRate: number, samplesPerFrame: number) {
    this.#sampleRate = sampleRate;
    this.#frameBytes = samplesPerFrame * 2;
  }

  push(chunk: Uint8Array): AudioFrame[] {
    const bytes = this.#pending.length
      ? Buffer.concat([this.#pending, chunk])
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out: AudioFrame[] = [];
    let offset = 0;
    for (; offset + this.#frameBytes <= bytes.length; offset += this.#frameBytes) {
      out.push(this.#frame(bytes.subarray(offset, offset + this.#frameBytes)));
    }
    // Copy the remainder: the caller's chunk may be reused once we return.
    this.#pending = Buffer.from(bytes.subarray(offset));
    return out;
  }

  /** The last partial frame (a trailing odd byte is dropped), or undefined. */
  flush(): AudioFrame | undefined {
    const usable = this.#pending.length - (this.#pending.length % 2);
    const rest = usable > 0 ? this.#frame(this.#pending.subarray(0, usable)) : undefined;
    this.#pending = Buffer.alloc(0);
    return rest;
  }

  #frame(bytes: Uint8Array): AudioFrame {
    // A fresh, aligned buffer per frame: frames outlive this call and go to native code whole.
    const samples = new Int16Array(bytes.length / 2);
    new Uint8Array(samples.buffer).set(bytes);
    return new AudioFrame(samples, this.#sampleRate, 1, samples.length);
  }
}

/**
 * Drops the inaudible samples (below {@link LEAD_SILENCE_THRESHOLD}) a stream of PCM s16le bytes starts with, up
 * to {@link LEAD_SILENCE_MAX_MS}; from the first audible sample on, every byte passes unchanged. Chunk boundaries
 * are arbitrary, odd ones included.
 */
export class LeadingSilenceTrimmer {
  readonly #maxBytes: number;
  #droppedBytes = 0;
  #trimming = true;
  /** A chunk that ended in the middle of a sample, while still trimming. */
  #oddByte: Uint8Array | undefined;

  constructor(sampleRate: number, maxMs = LEAD_SILENCE_MAX_MS) {
    this.#maxBytes = Math.floor((sampleRate * maxMs) / 1000) * 2;
  }

  /** The part of `chunk` to play (a view of it, or of a copy when a sample straddled two chunks). */
  push(chunk: Uint8Array): Uint8Array {
    if (!this.#trimming) return chunk;
    const bytes = this.#oddByte ? Buffer.concat([this.#oddByte, chunk]) : chunk;
    this.#oddByte = undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    for (; offset + 1 < bytes.length; offset += 2) {
      if (this.#droppedBytes + offset >= this.#maxBytes) break;
      if (Math.abs(view.getInt16(offset, true)) >= LEAD_SILENCE_THRESHOLD) break;
    }
    const audibleAt = offset + 1 < bytes.length ? offset : undefined;
    this.#droppedBytes += offset;
    if (audibleAt !== undefined) {
      this.#trimming = false;
      return bytes.subarray(audibleAt);
    }
    if (offset < bytes.length) this.#oddByte = bytes.slice(offset);
    return new Uint8Array(0);
  }
}
