import { type APIConnectOptions, shortuuid, tts } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import type OpenAI from 'openai';
import type { ClientOptions } from 'ws';
import type { SpeechObserver } from '../usage/speech-usage.ts';
import {
  LeadingSilenceTrimmer,
  PcmFramer,
  replySentenceTokenizer,
  SPEECH_FRAME_SAMPLES,
} from './openai-speech.ts';
import { REALTIME_SAMPLE_RATE, RealtimeSpeechSession } from './realtime-session.ts';
import { SentenceStream } from './sentence-stream.ts';
import { SpeechSlots } from './speech-slots.ts';
import { transcriptDiffers } from './transcript-match.ts';

export interface RealtimeSpeechOptions {
  /** An OpenAI client whose baseURL is the Realtime API base (`https://…/v1`). */
  client: OpenAI;
  model: string;
  voice: string;
  observer: SpeechObserver;
  socketOptions?: ClientOptions;
  /** Sentences synthesised at once (the one playing and the next); later ones wait, and a barge-in drops them. */
  maxInFlight?: number;
  onConnection?(event: 'connected' | 'dropped' | 'failed', detail?: string): void;
  /** A sentence that fails fails its reader too (set when a failover adapter reads this engine; see SentenceStream). */
  surfaceFailures?: boolean;
}

/** First-audio deadline when the caller passes no connection options. */
const DEFAULT_FIRST_AUDIO_TIMEOUT_MS = 10_000;

/**
 * Speech over the OpenAI Realtime API (GA), e.g. `gpt-realtime-2.1-mini`, OpenAI's named replacement for the
 * /v1/audio/speech models that shut down on 2027-01-06: one WebSocket per call ({@link RealtimeSpeechSession}),
 * each sentence read verbatim in an out-of-band response. `synthesize()` reads one text (the greeting, a sentence
 * from the failover adapter); `stream()` cuts a streamed reply into sentences with {@link replySentenceTokenizer}
 * and reads them in order, at most `maxInFlight` at a time, as the framework's StreamAdapter does (which also marks
 * each sentence's start in the audio, so the framework knows what was heard when the caller barges in).
 *
 * Barge-in: the framework closes the streams; each sentence in flight sends `response.cancel`, and sentences still
 * waiting for a slot are never sent. Usage is reported from every `response.done` (cancelled ones included), and
 * where the model's transcript differs from the text it was given, the sentence is reported as a mismatch (its
 * text never reaches a log).
 */
export class RealtimeSpeech extends tts.TTS {
  override label = 'openai.RealtimeSpeech';
  readonly session: RealtimeSpeechSession;
  readonly #opts: RealtimeSpeechOptions;
  readonly #slots: SpeechSlots;
  readonly #sentences: tts.StreamAdapter;

  constructor(opts: RealtimeSpeechOptions) {
    super(REALTIME_SAMPLE_RATE, 1, { streaming: true, alignedTranscript: true });
    this.#opts = opts;
    this.#slots = new SpeechSlots(opts.maxInFlight ?? 2);
    this.session = new RealtimeSpeechSession({
      client: opts.client,
      model: opts.model,
      voice: opts.voice,
      ...(opts.socketOptions ? { socketOptions: opts.socketOptions } : {}),
      ...(opts.onConnection ? { onConnection: opts.onConnection } : {}),
      onUsage: (tokens, text) =>
        opts.observer.usage({
          provider: 'openai-realtime',
          model: opts.model,
          characters: text.length,
          tokens,
        }),
    });
    this.#sentences = new tts.StreamAdapter(this, replySentenceTokenizer());
    // The adapter re-emits this engine's errors on itself, where nobody listens (see OpenAISpeech).
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

  /** Opens the call's connection now (while the job joins), so the first sentence does not wait for it. */
  warm(): void {
    this.session.connect().catch(() => undefined);
  }

  override synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    return new RealtimeSentence(this, text, this.#opts, this.#slots, connOptions, abortSignal);
  }

  override stream(options?: { connOptions?: APIConnectOptions }): tts.SynthesizeStream {
    return this.#sentences.stream(options);
  }

  override async close(): Promise<void> {
    this.session.close();
    await this.#sentences.close();
  }
}

class RealtimeSentence extends SentenceStream {
  override label = 'openai.RealtimeSentence';
  readonly #engine: RealtimeSpeech;
  readonly #opts: RealtimeSpeechOptions;
  readonly #slots: SpeechSlots;
  readonly #timeoutMs: number;

  constructor(
    engine: RealtimeSpeech,
    text: string,
    opts: RealtimeSpeechOptions,
    slots: SpeechSlots,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, engine, opts.surfaceFailures ?? false, connOptions, abortSignal);
    this.#engine = engine;
    this.#opts = opts;
    this.#slots = slots;
    this.#timeoutMs = connOptions?.timeoutMs ?? DEFAULT_FIRST_AUDIO_TIMEOUT_MS;
  }

  protected override async speak(): Promise<void> {
    const signal = this.abortSignal;
    const release = await this.#slots.acquire(signal);
    if (!release) return; // barge-in before this sentence's turn: it is never sent
    try {
      const requestId = shortuuid();
      const leadIn = new LeadingSilenceTrimmer(REALTIME_SAMPLE_RATE);
      const frames = new PcmFramer(REALTIME_SAMPLE_RATE, SPEECH_FRAME_SAMPLES);
      // Frames go on as soon as they are whole: the Realtime API sends audio at its generation pace, so holding
      // one back (to mark the last one final) would delay the first sound by one delta. The remainder at the end
      // carries the final mark (the framework uses it only to close the segment's metrics).
      const put = (frame: AudioFrame, final: boolean) =>
        this.queue.put({ requestId, segmentId: requestId, frame, final });
      const text = this.inputText;
      const result = await this.#engine.session.read(
        text,
        (pcm) => {
          for (const frame of frames.push(leadIn.push(pcm))) put(frame, false);
        },
        signal,
        this.#timeoutMs,
      );
      if (result.status === 'cancelled' || signal.aborted) return;
      const rest = frames.flush();
      if (rest) put(rest, true);
      this.#opts.observer.spoken({
        provider: 'openai-realtime',
        text,
        transcriptMismatch: transcriptDiffers(text, result.transcript),
      });
    } finally {
      release();
    }
  }
}
