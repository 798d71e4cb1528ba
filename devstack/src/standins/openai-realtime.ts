import type { IncomingMessage, Server } from 'node:http';
import { createServer, type Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type {
  RealtimeClientEvent,
  RealtimeResponseUsage,
  RealtimeServerEvent,
} from 'openai/resources/realtime/realtime';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { synthesizeSpeech } from './espeak.ts';
import { listenOnFreePort, providerId, sleep } from './http.ts';
import type { LatencyProfile } from './profile.ts';

/**
 * OpenAI Realtime API stand-in (GA interface): `wss://…/v1/realtime?model=…`, TLS only, as the real endpoint and
 * the `openai` package's client (`openai/realtime/ws`, which always connects with wss) require. It serves what a
 * speech engine uses: `session.update` (audio output only, PCM 24 kHz), out-of-band `response.create`
 * (`conversation: "none"`) answered with espeak-ng speech as `response.output_audio.delta` and its transcript as
 * `response.output_audio_transcript.delta`, in the real event order, usage in `response.done`, and
 * `response.cancel`. Audio input, conversation state and tools are not simulated and are refused as such.
 *
 * Event shapes are the `openai` package's own types (resources/realtime), so a change there shows in typecheck.
 */

/** Served Realtime models (the `openai` package's list for session models, GA only). */
const SERVED_MODELS = new Set([
  'gpt-realtime',
  'gpt-realtime-1.5',
  'gpt-realtime-2',
  'gpt-realtime-2.1',
  'gpt-realtime-2.1-mini',
  'gpt-realtime-2025-08-28',
  'gpt-realtime-mini',
  'gpt-realtime-mini-2025-10-06',
  'gpt-realtime-mini-2025-12-15',
]);
/**
 * The beta-era preview models: the beta interface was removed on 2026-05-12 and these no longer open a session.
 * They get the error a model the account cannot use gets.
 */
const RETIRED_MODELS = /^gpt-4o(-mini)?-realtime-preview(-\d{4}-\d{2}-\d{2})?$/;
const VOICES = new Set([
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'sage',
  'shimmer',
  'verse',
  'marin',
  'cedar',
]);
/** espeak-ng variants so a listener can tell the voices apart (as in the /v1/audio/speech stand-in). */
const ESPEAK_VOICES: Record<string, string> = {
  alloy: 'en-us',
  ash: 'en-us+m3',
  ballad: 'en-us+m5',
  coral: 'en-us+f2',
  echo: 'en-us+m2',
  sage: 'en-us+f4',
  shimmer: 'en-us+f5',
  verse: 'en-us+m4',
  marin: 'en-us+f1',
  cedar: 'en-us+m1',
};
const SAMPLE_RATE = 24_000;
/** 100 ms of 24 kHz s16le per `response.output_audio.delta`. */
const DELTA_BYTES = 4_800;
/**
 * The model generates speech faster than it plays: deltas go out at this multiple of real time once the first one
 * is out (so a `response.cancel` can still find a long response in progress, as it can on the real service).
 */
const GENERATION_SPEED = 5;
/**
 * Usage model of this stand-in (not OpenAI's measured ratios): text tokens ≈ characters / 4, audio output tokens
 * 20 per second of audio. The product bills whatever `response.done` reports, so only consistency matters here.
 */
const AUDIO_TOKENS_PER_SECOND = 20;
const textTokens = (text: string) => Math.ceil(text.length / 4);

export type RealtimeFailure =
  /** `response.done` with status `failed` (a server error) right after `response.created`. */
  | { kind: 'failed' }
  /** An `error` event for the `response.create` (no response is created). */
  | { kind: 'error' }
  /** `response.created`, then nothing: no audio, no `response.done` until cancelled or the socket closes. */
  | { kind: 'stall' }
  /** The server drops the connection (close 1011) after `response.created`, or after the first audio delta. */
  | { kind: 'disconnect'; afterAudio?: boolean };

export interface RealtimeResponseRecord {
  responseId: string;
  receivedAt: number;
  /** The text the client asked to have read (the last input_text of the response's input). */
  text: string;
  instructions: string;
  /** What the stand-in actually spoke (differs from `text` when a reword is configured). */
  spoken: string;
  status: 'in_progress' | 'completed' | 'cancelled' | 'failed' | 'incomplete';
  /** Time from `response.create` to the first audio delta. */
  firstAudioMs?: number;
  audioSeconds: number;
  /** The usage sent in `response.done` (what the real API bills). */
  usage?: RealtimeResponseUsage;
  failure?: RealtimeFailure['kind'];
}

export interface RealtimeConnectionRecord {
  model: string;
  openedAt: number;
  closedAt?: number;
  closeCode?: number;
  /** `session.update` events received, as sent. */
  sessionUpdates: unknown[];
  responses: RealtimeResponseRecord[];
  /** `response.cancel` events received. */
  cancels: number;
  /** `error` events sent (type/code), in order. */
  errors: Array<{ type: string; code: string | null }>;
}

export interface RealtimeSettings {
  profile: LatencyProfile;
  /** Rewords a text before it is spoken (to test transcript mismatch handling); undefined = read verbatim. */
  reword?: (text: string) => string | undefined;
  /** While set, every response fails this way. */
  outage?: RealtimeFailure;
  /** While true, new connections are refused at the upgrade with 503. */
  refuseConnections?: boolean;
}

export interface OpenAiRealtimeStandin {
  /** Base URL for an OpenAI client (`https://127.0.0.1:P/v1`); the realtime client connects to wss://…/v1/realtime. */
  url: string;
  connections: RealtimeConnectionRecord[];
  queueFailures(failures: RealtimeFailure[]): void;
  /** Closes every open session from the server side (code 1001, as on a server restart). */
  dropConnections(): void;
  reset(): void;
  stop(): Promise<void>;
}

interface SessionState {
  voice: string;
  outputModalities: Array<'text' | 'audio'>;
  format: { type: string; rate?: number };
  audioWritten: boolean;
  typeGiven: boolean;
}

interface ActiveResponse {
  record: RealtimeResponseRecord;
  abort: AbortController;
}

export async function startOpenAiRealtimeStandin(
  host: string,
  tls: { key: string; cert: string },
  settings: () => RealtimeSettings,
): Promise<OpenAiRealtimeStandin> {
  const connections: RealtimeConnectionRecord[] = [];
  let failures: RealtimeFailure[] = [];
  const live = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  const server: HttpsServer = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    // The models endpoint, as the agent's start-up check asks it (GET /v1/models/{id}) at the Realtime base URL.
    const model = /^\/v1\/models\/([^/?]+)$/.exec(new URL(req.url ?? '/', 'https://localhost').pathname);
    if (req.method === 'GET' && model) {
      if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              message: "You didn't provide an API key.",
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            },
          }),
        );
        return;
      }
      const id = decodeURIComponent(model[1] ?? '');
      if (SERVED_MODELS.has(id)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id, object: 'model', created: 1_756_339_200, owned_by: 'system' }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              message: `The model \`${id}\` does not exist or you do not have access to it.`,
              type: 'invalid_request_error',
              param: null,
              code: 'model_not_found',
            },
          }),
        );
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: {
          message: 'The Realtime stand-in serves WebSocket /v1/realtime and GET /v1/models/{id} only.',
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      }),
    );
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (url.pathname !== '/v1/realtime') {
      return rejectUpgrade(socket, 404, 'invalid_request_error', null, `Invalid URL (GET ${url.pathname})`);
    }
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
      return rejectUpgrade(
        socket,
        401,
        'invalid_request_error',
        'invalid_api_key',
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    }
    if (req.headers['openai-beta']) {
      // The beta interface was removed; its header selects nothing any more.
      return rejectUpgrade(
        socket,
        400,
        'invalid_request_error',
        'beta_api_removed',
        'The Realtime API beta has been removed; drop the OpenAI-Beta: realtime=v1 header.',
      );
    }
    if (settings().refuseConnections) {
      return rejectUpgrade(socket, 503, 'server_error', null, 'The server is overloaded (simulated).');
    }
    const model = url.searchParams.get('model') ?? '';
    wss.handleUpgrade(req, socket, head, (ws) => {
      live.add(ws);
      ws.once('close', () => live.delete(ws));
      serveSession(ws, model);
    });
  });

  function serveSession(ws: WebSocket, model: string): void {
    const record: RealtimeConnectionRecord = {
      model,
      openedAt: Date.now(),
      sessionUpdates: [],
      responses: [],
      cancels: 0,
      errors: [],
    };
    connections.push(record);
    const responses = new Map<string, ActiveResponse>();
    ws.once('close', (code) => {
      record.closedAt = Date.now();
      record.closeCode = code;
      for (const active of responses.values()) active.abort.abort();
    });
    const send = (event: RealtimeServerEvent) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(event));
    };
    const sendError = (
      type: string,
      code: string | null,
      message: string,
      eventId?: string,
      param?: string,
    ) => {
      record.errors.push({ type, code });
      send({
        type: 'error',
        event_id: providerId('event_'),
        error: { type, code, message, param: param ?? null, event_id: eventId ?? null },
      });
    };

    if (!SERVED_MODELS.has(model)) {
      // What the real endpoint does with a model it does not serve for conversations: an error event, then close
      // 4000 with the error's type and code as the reason.
      const message = RETIRED_MODELS.test(model)
        ? `The model \`${model}\` has been deprecated and is no longer available. Use gpt-realtime-2.1-mini or another current Realtime model.`
        : `Model "${model}" is not supported in realtime mode.`;
      sendError('invalid_request_error', 'invalid_model', message);
      ws.close(4000, 'invalid_request_error.invalid_model');
      return;
    }

    const session: SessionState = {
      voice: 'alloy',
      outputModalities: ['audio'],
      format: { type: 'audio/pcm', rate: SAMPLE_RATE },
      audioWritten: false,
      typeGiven: false,
    };
    send({
      type: 'session.created',
      event_id: providerId('event_'),
      session: {
        type: 'realtime',
        model,
        output_modalities: ['audio'],
        instructions: 'Your knowledge cutoff is 2024-09. You are a helpful, witty, and friendly AI.',
        audio: {
          input: { format: { type: 'audio/pcm', rate: SAMPLE_RATE }, turn_detection: { type: 'server_vad' } },
          output: { format: { type: 'audio/pcm', rate: SAMPLE_RATE }, voice: session.voice, speed: 1 },
        },
      },
    });

    ws.on('message', (data: RawData, isBinary: boolean) => {
      let event: RealtimeClientEvent;
      try {
        if (isBinary) throw new Error('binary');
        event = JSON.parse(data.toString()) as RealtimeClientEvent;
      } catch {
        return sendError(
          'invalid_request_error',
          'invalid_json',
          'The server could not parse the client event as JSON.',
        );
      }
      const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
      switch (event.type) {
        case 'session.update':
          return updateSession(event.session as unknown as Record<string, unknown>, eventId);
        case 'response.create':
          return void createResponse(
            (event.response ?? {}) as unknown as Record<string, unknown>,
            eventId,
          ).catch(() => ws.close(1011, 'server_error'));
        case 'response.cancel': {
          record.cancels += 1;
          const active = event.response_id ? responses.get(event.response_id) : undefined;
          if (!active) {
            return sendError(
              'invalid_request_error',
              'response_cancel_not_active',
              'Cancellation failed: no active response found.',
              eventId,
            );
          }
          active.abort.abort('client_cancelled');
          return;
        }
        default:
          return sendError(
            'invalid_request_error',
            'unsupported_event',
            `The Realtime stand-in does not simulate '${String((event as { type?: unknown }).type)}' (audio input and conversation state are not simulated).`,
            eventId,
          );
      }
    });

    function updateSession(update: Record<string, unknown>, eventId: string | undefined) {
      record.sessionUpdates.push(update);
      if (update.type !== 'realtime') {
        return sendError(
          'invalid_request_error',
          'missing_required_parameter',
          "Missing required parameter: 'session.type'.",
          eventId,
          'session.type',
        );
      }
      const known = new Set([
        'type',
        'model',
        'instructions',
        'output_modalities',
        'audio',
        'max_output_tokens',
        'tracing',
        'truncation',
        'reasoning',
        'tool_choice',
        'tools',
      ]);
      for (const key of Object.keys(update)) {
        if (!known.has(key)) {
          return sendError(
            'invalid_request_error',
            'unknown_parameter',
            `Unknown parameter: 'session.${key}'.`,
            eventId,
            `session.${key}`,
          );
        }
      }
      const modalities = update.output_modalities;
      if (modalities !== undefined) {
        if (
          !Array.isArray(modalities) ||
          modalities.length !== 1 ||
          !['audio', 'text'].includes(modalities[0])
        ) {
          return sendError(
            'invalid_request_error',
            'invalid_value',
            "Invalid 'session.output_modalities': it is not possible to request both text and audio at the same time.",
            eventId,
            'session.output_modalities',
          );
        }
        session.outputModalities = modalities as Array<'audio' | 'text'>;
      }
      const audio = (update.audio ?? {}) as {
        output?: Record<string, unknown>;
        input?: Record<string, unknown>;
      };
      const output = audio.output ?? {};
      if (output.format !== undefined) {
        const format = output.format as { type?: string; rate?: number };
        if (format.type !== 'audio/pcm' || (format.rate !== undefined && format.rate !== SAMPLE_RATE)) {
          return sendError(
            'invalid_request_error',
            'invalid_value',
            `Invalid 'session.audio.output.format': the stand-in produces audio/pcm at 24000 Hz only (got ${JSON.stringify(format)}).`,
            eventId,
            'session.audio.output.format',
          );
        }
        session.format = { type: format.type, rate: SAMPLE_RATE };
      }
      if (output.voice !== undefined) {
        if (typeof output.voice !== 'string' || !VOICES.has(output.voice)) {
          return sendError(
            'invalid_request_error',
            'invalid_value',
            `Invalid value for 'session.audio.output.voice': ${JSON.stringify(output.voice)}.`,
            eventId,
            'session.audio.output.voice',
          );
        }
        if (session.audioWritten && output.voice !== session.voice) {
          return sendError(
            'invalid_request_error',
            'cannot_update_voice',
            "Cannot update a conversation's voice if assistant audio is present.",
            eventId,
            'session.audio.output.voice',
          );
        }
        session.voice = output.voice;
      }
      if (output.speed !== undefined) {
        const speed = Number(output.speed);
        if (!Number.isFinite(speed) || speed < 0.25 || speed > 1.5) {
          return sendError(
            'invalid_request_error',
            'decimal_above_max_value',
            `Invalid 'session.audio.output.speed': ${String(output.speed)}. Expected a value between 0.25 and 1.5.`,
            eventId,
            'session.audio.output.speed',
          );
        }
      }
      session.typeGiven = true;
      send({
        type: 'session.updated',
        event_id: providerId('event_'),
        session: {
          type: 'realtime',
          model,
          output_modalities: session.outputModalities,
          audio: { output: { format: { type: 'audio/pcm', rate: SAMPLE_RATE }, voice: session.voice } },
        },
      });
    }

    async function createResponse(
      params: Record<string, unknown>,
      eventId: string | undefined,
    ): Promise<void> {
      const receivedAt = Date.now();
      const conversation = params.conversation ?? 'auto';
      if (conversation !== 'none') {
        return sendError(
          'invalid_request_error',
          'not_simulated',
          'The Realtime stand-in simulates out-of-band responses only (response.conversation = "none").',
          eventId,
          'response.conversation',
        );
      }
      const modalities = (params.output_modalities as string[] | undefined) ?? session.outputModalities;
      if (modalities.length !== 1 || modalities[0] !== 'audio') {
        return sendError(
          'invalid_request_error',
          'not_simulated',
          'The Realtime stand-in produces audio responses only (output_modalities ["audio"]).',
          eventId,
          'response.output_modalities',
        );
      }
      const text = lastInputText(params.input);
      if (text === undefined) {
        return sendError(
          'invalid_request_error',
          'missing_required_parameter',
          'The out-of-band response has no input_text to read (response.input).',
          eventId,
          'response.input',
        );
      }
      const failure = settings().outage ?? failures.shift();
      if (failure?.kind === 'error') {
        return sendError(
          'server_error',
          null,
          'The server had an error while processing your request (simulated).',
          eventId,
        );
      }
      const instructions = typeof params.instructions === 'string' ? params.instructions : '';
      const responseId = providerId('resp_');
      const itemId = providerId('item_');
      const response: ActiveResponse = {
        abort: new AbortController(),
        record: {
          responseId,
          receivedAt,
          text,
          instructions,
          spoken: text,
          status: 'in_progress',
          audioSeconds: 0,
          ...(failure ? { failure: failure.kind } : {}),
        },
      };
      record.responses.push(response.record);
      responses.set(responseId, response);
      const metadata = (params.metadata as Record<string, string> | null | undefined) ?? null;
      const base = {
        id: responseId,
        object: 'realtime.response' as const,
        conversation_id: undefined,
        output_modalities: ['audio' as const],
        metadata,
        audio: {
          output: {
            format: { type: 'audio/pcm' as const, rate: SAMPLE_RATE as 24000 },
            voice: session.voice,
          },
        },
      };
      send({
        type: 'response.created',
        event_id: providerId('event_'),
        response: { ...base, status: 'in_progress', output: [] },
      });
      send({
        type: 'rate_limits.updated',
        event_id: providerId('event_'),
        rate_limits: [
          { name: 'requests', limit: 5000, remaining: 4999, reset_seconds: 0.012 },
          { name: 'tokens', limit: 20_000_000, remaining: 19_999_000, reset_seconds: 0.003 },
        ],
      });

      const finish = (
        status: RealtimeResponseRecord['status'],
        transcript: string,
        usage: RealtimeResponseUsage,
        details?: Record<string, unknown>,
      ) => {
        responses.delete(responseId);
        response.record.status = status;
        response.record.usage = usage;
        send({
          type: 'response.done',
          event_id: providerId('event_'),
          response: {
            ...base,
            status,
            ...(details ? { status_details: details } : {}),
            output: transcript
              ? [
                  {
                    id: itemId,
                    object: 'realtime.item',
                    type: 'message',
                    role: 'assistant',
                    status: status === 'completed' ? 'completed' : 'incomplete',
                    content: [{ type: 'output_audio', transcript }],
                  },
                ]
              : [],
            usage,
          },
        });
      };
      const inputTokens = textTokens(instructions) + textTokens(text) + 4;
      const noOutput: RealtimeResponseUsage = {
        input_tokens: inputTokens,
        output_tokens: 0,
        total_tokens: inputTokens,
        input_token_details: { text_tokens: inputTokens, audio_tokens: 0, cached_tokens: 0 },
        output_token_details: { text_tokens: 0, audio_tokens: 0 },
      };

      if (failure?.kind === 'failed') {
        return finish('failed', '', noOutput, {
          type: 'failed',
          error: { type: 'server_error', code: 'server_error' },
        });
      }
      if (failure?.kind === 'disconnect' && !failure.afterAudio) {
        ws.close(1011, 'server_error');
        return;
      }
      const cancelled = () => response.abort.signal.aborted;
      const cancelledUsage = () => {
        // What was generated until the cancel is billed.
        const audioTokens = Math.ceil(response.record.audioSeconds * AUDIO_TOKENS_PER_SECOND);
        return usageOf(inputTokens, audioTokens, 0);
      };
      if (failure?.kind === 'stall') {
        await new Promise<void>((resolve) =>
          response.abort.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        if (ws.readyState === ws.OPEN) {
          finish('cancelled', '', cancelledUsage(), { type: 'cancelled', reason: 'client_cancelled' });
        }
        return;
      }

      const spoken = settings().reword?.(text) ?? text;
      response.record.spoken = spoken;
      const pcm = await synthesizeSpeech(spoken, {
        sampleRate: SAMPLE_RATE,
        voice: ESPEAK_VOICES[session.voice] ?? 'en-us',
      });
      send({
        type: 'response.output_item.added',
        event_id: providerId('event_'),
        response_id: responseId,
        output_index: 0,
        item: {
          id: itemId,
          object: 'realtime.item',
          type: 'message',
          role: 'assistant',
          status: 'in_progress',
          content: [],
        },
      });
      send({
        type: 'response.content_part.added',
        event_id: providerId('event_'),
        response_id: responseId,
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'audio', transcript: '' },
      });
      await sleep(receivedAt + settings().profile.ttsTtfbMs - Date.now(), response.abort.signal);

      const words = spoken.split(/(?<=\s)/);
      const deltas = Math.max(1, Math.ceil(pcm.length / DELTA_BYTES));
      let transcript = '';
      let wordIndex = 0;
      const started = Date.now();
      for (let i = 0; i < deltas && !cancelled() && ws.readyState === ws.OPEN; i++) {
        const chunk = pcm.subarray(i * DELTA_BYTES, (i + 1) * DELTA_BYTES);
        if (i === 0) response.record.firstAudioMs = Date.now() - receivedAt;
        session.audioWritten = true;
        send({
          type: 'response.output_audio.delta',
          event_id: providerId('event_'),
          response_id: responseId,
          item_id: itemId,
          output_index: 0,
          content_index: 0,
          delta: chunk.toString('base64'),
        });
        response.record.audioSeconds += chunk.length / 2 / SAMPLE_RATE;
        // The transcript keeps pace with the audio: the words whose share of the audio has been sent.
        const wordsDue = Math.min(words.length, Math.ceil(((i + 1) / deltas) * words.length));
        if (wordsDue > wordIndex) {
          const delta = words.slice(wordIndex, wordsDue).join('');
          wordIndex = wordsDue;
          transcript += delta;
          send({
            type: 'response.output_audio_transcript.delta',
            event_id: providerId('event_'),
            response_id: responseId,
            item_id: itemId,
            output_index: 0,
            content_index: 0,
            delta,
          });
        }
        if (i === 0 && failure?.kind === 'disconnect') {
          ws.close(1011, 'server_error');
          return;
        }
        const due = started + ((i + 1) * (DELTA_BYTES / 2 / SAMPLE_RATE) * 1000) / GENERATION_SPEED;
        await sleep(due - Date.now(), response.abort.signal);
      }
      if (ws.readyState !== ws.OPEN) return;
      const status = cancelled() ? 'cancelled' : 'completed';
      const final = status === 'completed' ? spoken : transcript;
      const common = {
        event_id: '',
        response_id: responseId,
        item_id: itemId,
        output_index: 0,
        content_index: 0,
      };
      send({ ...common, event_id: providerId('event_'), type: 'response.output_audio.done' });
      send({
        ...common,
        event_id: providerId('event_'),
        type: 'response.output_audio_transcript.done',
        transcript: final,
      });
      send({
        ...common,
        event_id: providerId('event_'),
        type: 'response.content_part.done',
        part: { type: 'audio', transcript: final },
      });
      send({
        type: 'response.output_item.done',
        event_id: providerId('event_'),
        response_id: responseId,
        output_index: 0,
        item: {
          id: itemId,
          object: 'realtime.item',
          type: 'message',
          role: 'assistant',
          status: status === 'completed' ? 'completed' : 'incomplete',
          content: [{ type: 'output_audio', transcript: final }],
        },
      });
      const audioTokens = Math.ceil(response.record.audioSeconds * AUDIO_TOKENS_PER_SECOND);
      finish(
        status,
        final,
        status === 'completed' ? usageOf(inputTokens, audioTokens, textTokens(final)) : cancelledUsage(),
        status === 'cancelled' ? { type: 'cancelled', reason: 'client_cancelled' } : undefined,
      );
    }
  }

  const listening = await listenOnFreePort(server as unknown as Server, host);
  return {
    url: `https://${host}:${listening.port}/v1`,
    connections,
    queueFailures(next) {
      failures.push(...next);
    },
    dropConnections() {
      for (const ws of live) ws.close(1001, 'going away');
    },
    reset() {
      connections.length = 0;
      failures = [];
    },
    stop: async () => {
      for (const ws of live) ws.terminate();
      await listening.close();
    },
  };
}

function usageOf(inputTokens: number, audioTokens: number, transcriptTokens: number): RealtimeResponseUsage {
  return {
    input_tokens: inputTokens,
    output_tokens: audioTokens + transcriptTokens,
    total_tokens: inputTokens + audioTokens + transcriptTokens,
    input_token_details: { text_tokens: inputTokens, audio_tokens: 0, cached_tokens: 0 },
    output_token_details: { text_tokens: transcriptTokens, audio_tokens: audioTokens },
  };
}

/** The text of the last `input_text` part of the response's input items. */
function lastInputText(input: unknown): string | undefined {
  if (!Array.isArray(input)) return undefined;
  let text: string | undefined;
  for (const item of input as Array<{ type?: string; content?: Array<{ type?: string; text?: string }> }>) {
    if (item?.type !== 'message' || !Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (part?.type === 'input_text' && typeof part.text === 'string' && part.text.trim()) text = part.text;
    }
  }
  return text;
}

function rejectUpgrade(
  socket: Duplex,
  status: number,
  type: string,
  code: string | null,
  message: string,
): void {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  const reason =
    status === 401
      ? 'Unauthorized'
      : status === 404
        ? 'Not Found'
        : status === 503
          ? 'Service Unavailable'
          : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
