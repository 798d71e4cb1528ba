import { APIConnectionError, APIStatusError, APITimeoutError, shortuuid } from '@livekit/agents';
import type { RealtimeSpeechTokens } from '@voice/core/pricing';
import type OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type {
  RealtimeErrorEvent,
  RealtimeResponseUsage,
  RealtimeServerEvent,
  ResponseDoneEvent,
} from 'openai/resources/realtime/realtime';
import type { ClientOptions } from 'ws';

/**
 * What the model is told for every sentence. The Realtime API is a conversational model, not a reader: without a
 * firm instruction it answers the text instead of saying it. Out-of-band responses carry no conversation state, so
 * this and the sentence are all it sees.
 */
export const READ_ALOUD_INSTRUCTIONS =
  'You are a text-to-speech voice. Say the text of the user message aloud, word for word, exactly as written, ' +
  'in a natural, friendly, conversational tone. Do not answer it, comment on it, translate it, or add anything.';

/** The Realtime API's audio: PCM 16-bit mono at 24 kHz (the only rate it offers). */
export const REALTIME_SAMPLE_RATE = 24_000;
/** Reconnect backoff after a dropped connection: first try after this long, doubling up to RECONNECT_MAX_MS. */
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 5_000;
/** WebSocket pings keep an idle connection (between turns) open through NATs and proxies. */
const PING_EVERY_MS = 20_000;

export interface RealtimeSessionOptions {
  /** An OpenAI client whose baseURL is the Realtime API base (`https://…/v1`); its key authenticates. */
  client: OpenAI;
  model: string;
  voice: string;
  /** Extra WebSocket options (e.g. a CA to trust); production passes none. */
  socketOptions?: ClientOptions;
  /** Every `response.done` with usage, including responses the caller stopped waiting for (they are billed too). */
  onUsage(tokens: RealtimeSpeechTokens, text: string): void;
  /** A connection dropped, failed or came back; `detail` never holds text or keys. */
  onConnection?(event: 'connected' | 'dropped' | 'failed', detail?: string): void;
}

export interface ReadResult {
  status: 'completed' | 'cancelled';
  /** The model's transcript of the audio it produced (what the caller heard). */
  transcript: string;
}

interface PendingRead {
  eventId: string;
  requestId: string;
  text: string;
  onAudio: (pcm: Buffer) => void;
  responseId?: string;
  audioBytes: number;
  transcript: string;
  /** The caller stopped waiting (barge-in, timeout): cancel the response once it exists, drop its audio. */
  abandoned: boolean;
  resolve(result: ReadResult): void;
  reject(error: Error): void;
}

/**
 * One Realtime API WebSocket for one call (the `openai` package's client), set to audio output only, that reads
 * texts aloud in out-of-band responses (`conversation: "none"`: nothing is kept on OpenAI's side between
 * sentences). Opened ahead of the first sentence (connect()), reconnected with backoff when it drops; requests in
 * flight when it drops fail (the engine's retry or failover takes over). Several reads may run at once; each is
 * matched to its response by the metadata it carries.
 */
export class RealtimeSpeechSession {
  readonly #opts: RealtimeSessionOptions;
  #socket: OpenAIRealtimeWS | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;
  #reconnectDelayMs = RECONNECT_FIRST_MS;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  /** Reads by the request id their response.create carries in its metadata. */
  readonly #byRequest = new Map<string, PendingRead>();
  /** Reads by the response id the server gave them (until response.done). */
  readonly #byResponse = new Map<string, PendingRead>();
  /** Reads by the event id of their response.create (an `error` event names it). */
  readonly #byEvent = new Map<string, PendingRead>();

  constructor(opts: RealtimeSessionOptions) {
    this.#opts = opts;
  }

  /** Opens the connection (if it is not open or opening) and resolves once the session is configured. */
  connect(timeoutMs = 10_000): Promise<void> {
    if (this.#closed) return Promise.reject(new APIConnectionError({ message: 'realtime speech closed' }));
    this.#ready ??= this.#open(timeoutMs);
    return this.#ready;
  }

  async #open(timeoutMs: number): Promise<void> {
    clearTimeout(this.#reconnectTimer);
    const socket = new OpenAIRealtimeWS(
      { model: this.#opts.model, ...(this.#opts.socketOptions ? { options: this.#opts.socketOptions } : {}) },
      this.#opts.client,
    );
    this.#socket = socket;
    let lastError: RealtimeErrorEvent['error'] | undefined;
    let socketError: string | undefined;
    const updateId = `session_${shortuuid()}`;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new APITimeoutError({ message: `realtime connection not ready after ${timeoutMs} ms` }));
        socket.socket.terminate();
      }, timeoutMs);
      socket.socket.once('open', () => {
        socket.send({
          type: 'session.update',
          event_id: updateId,
          session: {
            type: 'realtime',
            model: this.#opts.model,
            output_modalities: ['audio'],
            instructions: READ_ALOUD_INSTRUCTIONS,
            audio: {
              // No input audio: no turn detection, so the server never starts a response by itself.
              input: { turn_detection: null },
              output: { format: { type: 'audio/pcm', rate: REALTIME_SAMPLE_RATE }, voice: this.#opts.voice },
            },
          },
        });
      });
      socket.on('event', (event: RealtimeServerEvent) => {
        if (event.type === 'session.updated') {
          clearTimeout(timer);
          resolve();
        } else if (event.type === 'error') {
          lastError = event.error;
          if (event.error.event_id === updateId) {
            clearTimeout(timer);
            reject(realtimeError(event.error, false));
          }
        }
        this.#onEvent(event);
      });
      // Socket-level failures (server errors arrive as events above, and here too: the client emits both).
      socket.on('error', (error) => {
        if (!error.error) socketError = error.message;
      });
      socket.socket.once('close', (code, reason) => {
        clearTimeout(timer);
        const detail = lastError
          ? `${lastError.type}.${lastError.code ?? ''}`
          : (socketError ?? `closed ${code} ${reason.toString()}`.trim());
        // A refused model or key (close 4000 with an error) will not get better by retrying.
        const fatal = code === 4000 || lastError?.code === 'invalid_api_key';
        reject(
          fatal && lastError
            ? realtimeError(lastError, false)
            : new APIConnectionError({ message: `realtime connection failed: ${detail}` }),
        );
        this.#onClose(socket, detail, fatal);
      });
    });
    try {
      await ready;
    } catch (error) {
      this.#opts.onConnection?.('failed', error instanceof Error ? error.message : String(error));
      throw error;
    }
    this.#reconnectDelayMs = RECONNECT_FIRST_MS;
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => {
      if (socket.socket.readyState === socket.socket.OPEN) socket.socket.ping();
    }, PING_EVERY_MS);
    this.#pingTimer.unref();
    this.#opts.onConnection?.('connected');
  }

  #onClose(socket: OpenAIRealtimeWS, detail: string, fatal: boolean): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    this.#ready = undefined;
    clearInterval(this.#pingTimer);
    for (const read of new Set([...this.#byRequest.values(), ...this.#byResponse.values()])) {
      this.#forget(read);
      // Audio already played cannot be taken back: a retry would repeat it.
      read.reject(
        new APIConnectionError({
          message: `realtime connection dropped during a response: ${detail}`,
          options: { retryable: read.audioBytes === 0 },
        }),
      );
    }
    if (this.#closed) return;
    this.#opts.onConnection?.('dropped', detail);
    if (fatal) return; // the next read tries again, and fails fast with the reason
    // Reconnect ahead of the next sentence, so it does not pay for the handshake.
    const delay = this.#reconnectDelayMs;
    this.#reconnectDelayMs = Math.min(RECONNECT_MAX_MS, delay * 2);
    this.#reconnectTimer = setTimeout(() => {
      if (!this.#closed && !this.#ready) this.connect().catch(() => undefined);
    }, delay);
    this.#reconnectTimer.unref();
  }

  /**
   * Reads `text` aloud: `onAudio` gets the PCM as it streams in. Resolves when the response is done (or at once with
   * `cancelled` when `signal` aborts: the response is cancelled on the server). Rejects with the framework's
   * errors (APIConnectionError, APIStatusError, APITimeoutError) so retry and failover can act on them.
   */
  async read(
    text: string,
    onAudio: (pcm: Buffer) => void,
    signal: AbortSignal,
    firstAudioTimeoutMs: number,
  ): Promise<ReadResult> {
    const started = Date.now();
    // After the call: nothing to say (a background recovery check may still be on its way).
    if (this.#closed) return { status: 'cancelled', transcript: '' };
    await this.connect(firstAudioTimeoutMs);
    const socket = this.#socket;
    if (!socket) throw new APIConnectionError({ message: 'realtime connection dropped before the request' });
    if (signal.aborted) return { status: 'cancelled', transcript: '' };
    const requestId = shortuuid();
    return new Promise<ReadResult>((resolve, reject) => {
      const read: PendingRead = {
        eventId: `speak_${requestId}`,
        requestId,
        text,
        onAudio,
        audioBytes: 0,
        transcript: '',
        abandoned: false,
        resolve: (result) => {
          cleanup();
          resolve(result);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const stop = () => {
        this.#abandon(read);
        read.resolve({ status: 'cancelled', transcript: read.transcript });
      };
      // A stall is not retried on the same engine: the next engine speaks instead (failover), at once.
      const stallTimer = setTimeout(
        () => {
          if (read.audioBytes > 0) return;
          this.#abandon(read);
          read.reject(
            new APITimeoutError({
              message: `no audio from the Realtime API within ${firstAudioTimeoutMs} ms`,
              options: { retryable: false },
            }),
          );
        },
        Math.max(0, firstAudioTimeoutMs - (Date.now() - started)),
      );
      const cleanup = () => {
        clearTimeout(stallTimer);
        signal.removeEventListener('abort', stop);
      };
      signal.addEventListener('abort', stop, { once: true });
      this.#byRequest.set(requestId, read);
      this.#byEvent.set(read.eventId, read);
      socket.send({
        type: 'response.create',
        event_id: read.eventId,
        response: {
          conversation: 'none',
          output_modalities: ['audio'],
          instructions: READ_ALOUD_INSTRUCTIONS,
          metadata: { speech_request: requestId },
          input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text }] }],
        },
      });
    });
  }

  /** Stops waiting for a read; its response is cancelled on the server (now, or as soon as it exists). */
  #abandon(read: PendingRead): void {
    if (read.abandoned) return;
    read.abandoned = true;
    if (read.responseId) this.#cancel(read.responseId);
    else if (!this.#byRequest.has(read.requestId)) this.#forget(read);
  }

  #cancel(responseId: string): void {
    // The response may already be done (generation runs ahead of playback): the server then answers with a
    // harmless `response_cancel_not_active` error, which #onEvent ignores.
    this.#socket?.send({ type: 'response.cancel', response_id: responseId });
  }

  #forget(read: PendingRead): void {
    this.#byRequest.delete(read.requestId);
    this.#byEvent.delete(read.eventId);
    if (read.responseId) this.#byResponse.delete(read.responseId);
  }

  #onEvent(event: RealtimeServerEvent): void {
    switch (event.type) {
      case 'response.created': {
        const requestId = event.response.metadata?.speech_request;
        const read = requestId ? this.#byRequest.get(requestId) : undefined;
        if (!read || !event.response.id) return;
        this.#byRequest.delete(read.requestId);
        read.responseId = event.response.id;
        this.#byResponse.set(event.response.id, read);
        if (read.abandoned) this.#cancel(event.response.id);
        return;
      }
      case 'response.output_audio.delta': {
        const read = this.#byResponse.get(event.response_id);
        if (!read || read.abandoned) return;
        const pcm = Buffer.from(event.delta, 'base64');
        read.audioBytes += pcm.length;
        read.onAudio(pcm);
        return;
      }
      case 'response.output_audio_transcript.delta': {
        const read = this.#byResponse.get(event.response_id);
        if (read) read.transcript += event.delta;
        return;
      }
      case 'response.output_audio_transcript.done': {
        const read = this.#byResponse.get(event.response_id);
        if (read) read.transcript = event.transcript;
        return;
      }
      case 'response.done':
        this.#onResponseDone(event);
        return;
      case 'error': {
        if (event.error.code === 'response_cancel_not_active') return;
        const read = event.error.event_id ? this.#byEvent.get(event.error.event_id) : undefined;
        if (!read) return;
        this.#forget(read);
        read.reject(realtimeError(event.error, event.error.type === 'server_error'));
        return;
      }
      default:
        return;
    }
  }

  #onResponseDone(event: ResponseDoneEvent): void {
    const response = event.response;
    if (response.usage) {
      const read = response.id ? this.#byResponse.get(response.id) : undefined;
      this.#opts.onUsage(tokensOf(response.usage), read?.text ?? '');
    }
    const read = response.id ? this.#byResponse.get(response.id) : undefined;
    if (!read) return;
    this.#forget(read);
    if (read.abandoned) return;
    if (response.status === 'completed') {
      read.resolve({ status: 'completed', transcript: read.transcript });
      return;
    }
    const error = response.status_details?.error;
    read.reject(
      new APIStatusError({
        message: `Realtime response ${response.status}${error?.type ? `: ${error.type}` : ''}${error?.code ? ` (${error.code})` : ''}`,
        options: {
          statusCode: response.status === 'failed' ? 500 : 400,
          body: { status: response.status, status_details: response.status_details ?? null },
          // A failed response that played nothing may succeed on a second try; an incomplete one would not.
          retryable: response.status === 'failed' && read.audioBytes === 0,
        },
      }),
    );
  }

  /** Closes the connection for good (end of the call). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#pingTimer);
    this.#socket?.close({ code: 1000, reason: 'call ended' });
  }
}

function tokensOf(usage: RealtimeResponseUsage): RealtimeSpeechTokens {
  const input = usage.input_token_details;
  const output = usage.output_token_details;
  const audioIn = input?.audio_tokens ?? 0;
  const imageIn = input?.image_tokens ?? 0;
  return {
    textInputTokens: input?.text_tokens ?? Math.max(0, (usage.input_tokens ?? 0) - audioIn - imageIn),
    cachedTextInputTokens: input?.cached_tokens_details?.text_tokens ?? input?.cached_tokens ?? 0,
    audioInputTokens: audioIn,
    textOutputTokens: output?.text_tokens ?? 0,
    audioOutputTokens:
      output?.audio_tokens ?? Math.max(0, (usage.output_tokens ?? 0) - (output?.text_tokens ?? 0)),
  };
}

function realtimeError(error: RealtimeErrorEvent['error'], retryable: boolean): APIStatusError {
  return new APIStatusError({
    message: `Realtime API error: ${error.type}${error.code ? ` (${error.code})` : ''}: ${error.message}`,
    options: {
      statusCode: error.type === 'server_error' ? 500 : 400,
      body: { type: error.type, code: error.code ?? null, param: error.param ?? null },
      retryable,
    },
  });
}
