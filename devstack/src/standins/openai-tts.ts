import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { synthesizeSpeech } from './espeak.ts';
import { BodyTooLargeError, listenOnFreePort, readBody, sendJson, sleep } from './http.ts';
import { servedModels, servedOnDate } from './model-calendar.ts';
import type { LatencyProfile } from './profile.ts';
import { wavHeader } from './wav.ts';

/**
 * OpenAI speech stand-in: `POST /v1/audio/speech` answers with espeak-ng speech for `input`, as raw 24 kHz mono
 * s16le (`response_format: pcm`, what @livekit/agents-plugin-openai asks for) or WAV, streamed in chunks
 * after the configured time to first byte. Compressed formats (mp3, opus, aac, flac) are not simulated: 400.
 * `GET /v1/models/{id}` answers for the speech and Realtime models of the providers' calendar. A speech model past
 * its shutdown date on the stand-ins' clock (tts-1, tts-1-hd, gpt-4o-mini-tts: 2027-01-06) is refused as OpenAI
 * refuses a model that no longer exists: 404 model_not_found.
 */

export interface TtsRequestRecord {
  receivedAt: Date;
  body: unknown;
  status: number;
  error?: string;
  input?: string;
  voice?: string;
  model?: string;
  responseFormat?: string;
  /** Characters of `input` (what OpenAI bills). */
  characters: number;
  /** Seconds of audio returned. */
  audioSeconds: number;
  firstByteMs?: number;
}

export type TtsFailure = { status: 429 | 500 };

export interface OpenAiSettings {
  profile: LatencyProfile;
  /** The stand-ins' "today" (YYYY-MM-DD): which models are shut down. */
  today: string;
}

const SAMPLE_RATE = 24_000;
const CHUNK_BYTES = 4800; // 100 ms of 24 kHz s16le
const MODELS = /^(tts-1|tts-1-hd|gpt-4o-mini-tts)(-[\w.-]+)?$/;
// OpenAI's voices, each given a distinct espeak-ng variant so a listener can tell them apart.
const VOICES: Record<string, string> = {
  alloy: 'en-us',
  ash: 'en-us+m3',
  ballad: 'en-us+m5',
  coral: 'en-us+f2',
  echo: 'en-us+m2',
  fable: 'en-gb',
  onyx: 'en-us+m7',
  nova: 'en-us+f3',
  sage: 'en-us+f4',
  shimmer: 'en-us+f5',
  verse: 'en-us+m4',
  marin: 'en-us+f1',
  cedar: 'en-us+m1',
};
const FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'];

export interface OpenAiStandin {
  url: string;
  recorded: TtsRequestRecord[];
  queueFailures(failures: TtsFailure[]): void;
  reset(): void;
  stop(): Promise<void>;
}

export async function startOpenAiStandin(
  host: string,
  settings: () => OpenAiSettings,
): Promise<OpenAiStandin> {
  const recorded: TtsRequestRecord[] = [];
  let failures: TtsFailure[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent)
        sendError(res, 500, 'server_error', 'The server had an error while processing your request.');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const modelPath = req.method === 'GET' ? /^\/v1\/models\/([^/]+)$/.exec(path) : null;
    if (!modelPath && (req.method !== 'POST' || path !== '/v1/audio/speech')) {
      return sendError(res, 404, 'invalid_request_error', `Invalid URL (${req.method} ${path})`);
    }
    if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
      return sendError(
        res,
        401,
        'invalid_request_error',
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    }
    if (modelPath) {
      const model = decodeURIComponent(modelPath[1] ?? '');
      const today = settings().today;
      if (!servedModels(['openai-speech', 'openai-realtime'], today).some((id) => id === model)) {
        return sendModelNotFound(res, model);
      }
      return sendJson(res, 200, { id: model, object: 'model', created: 1_727_740_800, owned_by: 'system' });
    }
    let body: unknown;
    const record: TtsRequestRecord = {
      receivedAt: new Date(receivedAt),
      body: undefined,
      status: 0,
      characters: 0,
      audioSeconds: 0,
    };
    recorded.push(record);
    const fail = (status: number, type: string, message: string, param: string | null = null) => {
      record.status = status;
      record.error = type;
      sendError(res, status, type, message, param);
    };
    try {
      const raw = await readBody(req, 1024 * 1024);
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return fail(413, 'invalid_request_error', 'Request body too large.');
      return fail(400, 'invalid_request_error', 'We could not parse the JSON body of your request.');
    }
    record.body = body;
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (typeof b.model !== 'string')
      return fail(400, 'invalid_request_error', "Missing required parameter: 'model'.", 'model');
    if (!MODELS.test(b.model))
      return fail(400, 'invalid_request_error', `Invalid model: ${b.model}`, 'model');
    if (!servedOnDate(b.model, 'openai-speech', settings().today)) {
      record.status = 404;
      record.error = 'model_not_found';
      return sendModelNotFound(res, b.model);
    }
    if (typeof b.input !== 'string')
      return fail(400, 'invalid_request_error', "Missing required parameter: 'input'.", 'input');
    if (b.input.length === 0)
      return fail(400, 'invalid_request_error', "Invalid 'input': empty string.", 'input');
    if (b.input.length > 4096) {
      return fail(
        400,
        'invalid_request_error',
        `Invalid 'input': string too long. Expected a string with maximum length 4096, but got a string with length ${b.input.length} instead.`,
        'input',
      );
    }
    if (typeof b.voice !== 'string')
      return fail(400, 'invalid_request_error', "Missing required parameter: 'voice'.", 'voice');
    const espeakVoice = VOICES[b.voice];
    if (!espeakVoice)
      return fail(400, 'invalid_request_error', `Invalid value for 'voice': ${b.voice}.`, 'voice');
    const format = b.response_format === undefined ? 'mp3' : String(b.response_format);
    if (!FORMATS.includes(format))
      return fail(
        400,
        'invalid_request_error',
        `Invalid value for 'response_format': ${format}.`,
        'response_format',
      );
    if (format !== 'pcm' && format !== 'wav') {
      return fail(
        400,
        'invalid_request_error',
        `The OpenAI stand-in produces pcm and wav only, not ${format}.`,
        'response_format',
      );
    }
    const speed = b.speed === undefined ? 1 : Number(b.speed);
    if (!Number.isFinite(speed) || speed < 0.25 || speed > 4) {
      return fail(
        400,
        'invalid_request_error',
        `Invalid 'speed': ${String(b.speed)}. Expected a value between 0.25 and 4.`,
        'speed',
      );
    }
    record.input = b.input;
    record.voice = b.voice;
    record.model = b.model;
    record.responseFormat = format;
    record.characters = b.input.length;

    const failure = failures.shift();
    if (failure?.status === 429) {
      return fail(429, 'requests', 'Rate limit reached for requests (simulated).');
    }
    if (failure?.status === 500) {
      return fail(500, 'server_error', 'The server had an error while processing your request.');
    }

    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const pcm = await synthesizeSpeech(b.input, { sampleRate: SAMPLE_RATE, speed, voice: espeakVoice });
    await sleep(receivedAt + settings().profile.ttsTtfbMs - Date.now(), abort.signal);
    if (abort.signal.aborted) return;
    record.status = 200;
    record.audioSeconds = pcm.length / 2 / SAMPLE_RATE;
    record.firstByteMs = Date.now() - receivedAt;
    // No content-length: the body goes out with Transfer-Encoding: chunked, as OpenAI streams it.
    res.writeHead(200, {
      'content-type': format === 'wav' ? 'audio/wav' : 'audio/pcm',
      'x-request-id': `req_${Date.now()}`,
    });
    const payload = format === 'wav' ? Buffer.concat([wavHeader(pcm.length, SAMPLE_RATE), pcm]) : pcm;
    for (let offset = 0; offset < payload.length && !abort.signal.aborted; offset += CHUNK_BYTES) {
      const more = res.write(payload.subarray(offset, offset + CHUNK_BYTES));
      if (!more) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  }

  const listening = await listenOnFreePort(server, host);
  return {
    url: `http://${host}:${listening.port}/v1`,
    recorded,
    queueFailures(next) {
      failures.push(...next);
    },
    reset() {
      recorded.length = 0;
      failures = [];
    },
    stop: () => listening.close(),
  };
}

/** OpenAI's answer for a model that does not exist (any more) or that the key cannot use. */
export function sendModelNotFound(res: ServerResponse, model: string): void {
  sendJson(res, 404, {
    error: {
      message: `The model \`${model}\` does not exist or you do not have access to it.`,
      type: 'invalid_request_error',
      param: null,
      code: 'model_not_found',
    },
  });
}

function sendError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  param: string | null = null,
): void {
  const code = status === 401 ? 'invalid_api_key' : status === 429 ? 'rate_limit_exceeded' : null;
  sendJson(res, status, { error: { message, type, param, code } });
}
