import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { synthesizeSpeech } from './espeak.ts';
import { sleep } from './http.ts';
import type { LatencyProfile } from './profile.ts';

/**
 * Deepgram Aura speech stand-in: `GET /v1/speak` upgraded to a WebSocket, as @livekit/agents-plugin-deepgram's
 * TTS stream uses it. Text arrives in `{"type":"Speak","text"}` messages; `Flush` makes the buffered text speak
 * (binary linear16 audio, then `{"type":"Flushed","sequence_id"}`), `Clear` drops it (`Cleared`), `Close` ends
 * the connection. The first message is `Metadata`, as Deepgram sends it. Query checks follow Deepgram's: an
 * unknown model, encoding or sample rate is refused at the upgrade with 400.
 */

/** Aura-2 English voices (the plugin's list and the API's default `thalia`) and the Aura-1 voices. */
const AURA_2_VOICES = [
  'amalthea',
  'andromeda',
  'apollo',
  'arcas',
  'aries',
  'artemis',
  'asteria',
  'athena',
  'atlas',
  'aurora',
  'callisto',
  'cetus',
  'chiron',
  'columbia',
  'cordelia',
  'crina',
  'draco',
  'electra',
  'eos',
  'harmonia',
  'helios',
  'hera',
  'hermes',
  'hyperion',
  'io',
  'iris',
  'janus',
  'juno',
  'jupiter',
  'luna',
  'mars',
  'minerva',
  'mira',
  'neptune',
  'odysseus',
  'ophiuchus',
  'orion',
  'orpheus',
  'pandora',
  'phoebe',
  'pluto',
  'saturn',
  'selene',
  'thalia',
  'theia',
  'titan',
  'triton',
  'vega',
  'venus',
  'zeus',
];
const AURA_1_VOICES = [
  'asteria',
  'luna',
  'stella',
  'athena',
  'hera',
  'orion',
  'arcas',
  'perseus',
  'angus',
  'orpheus',
  'helios',
  'zeus',
];
export const DEEPGRAM_SPEECH_MODELS: ReadonlySet<string> = new Set([
  ...AURA_2_VOICES.map((v) => `aura-2-${v}-en`),
  ...AURA_1_VOICES.map((v) => `aura-${v}-en`),
]);
const LINEAR16_RATES = new Set([8000, 16000, 24000, 32000, 48000]);
/** Deepgram's limit on one Speak message's text. */
const MAX_SPEAK_CHARACTERS = 2000;
/** 100 ms of audio per binary message at 24 kHz (scaled to the requested rate). */
const CHUNK_MS = 100;
/** Audio goes out at this multiple of real time after the first chunk (generation outruns playback). */
const GENERATION_SPEED = 5;

export type SpeakFailure =
  /** An `Error` message, then close 1011, when the next Flush arrives. */
  | { kind: 'error' }
  /** The server drops the connection when the next Flush arrives (or after its first audio chunk). */
  | { kind: 'disconnect'; afterAudio?: boolean }
  /** The next Flush is never answered (no audio, no Flushed). */
  | { kind: 'stall' };

export interface SpeakConnectionRecord {
  requestId: string;
  model: string;
  query: Record<string, string>;
  openedAt: number;
  closedAt?: number;
  closeCode?: number;
  /** Text of every Speak message, in order. */
  texts: string[];
  /** Characters received in Speak messages (what Deepgram bills). */
  characters: number;
  /** Seconds of audio sent. */
  audioSeconds: number;
  flushes: number;
  /** Flush received → first audio byte, per flush that produced audio. */
  firstAudioMs: number[];
  failure?: SpeakFailure['kind'];
}

export interface SpeakSettings {
  profile: LatencyProfile;
  /** While set, every Flush fails this way. */
  outage?: SpeakFailure;
}

export interface DeepgramSpeakHandler {
  recorded: SpeakConnectionRecord[];
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
  queueFailures(failures: SpeakFailure[]): void;
  reset(): void;
}

export function createDeepgramSpeakHandler(
  wss: WebSocketServer,
  live: Set<WebSocket>,
  settings: () => SpeakSettings,
  reject: (socket: Duplex, status: number, code: string, requestId: string, message?: string) => void,
): DeepgramSpeakHandler {
  const recorded: SpeakConnectionRecord[] = [];
  let failures: SpeakFailure[] = [];

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) {
    const requestId = randomUUID();
    if (!/^(token|bearer)\s+\S+/i.test(req.headers.authorization ?? '')) {
      return reject(socket, 401, 'INVALID_AUTH', requestId, 'Invalid credentials.');
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const problem = validateSpeakQuery(query);
    if (problem) return reject(socket, 400, 'INVALID_QUERY_PARAMETER', requestId, problem);
    wss.handleUpgrade(req, socket, head, (ws) => {
      live.add(ws);
      ws.once('close', () => live.delete(ws));
      serve(ws, requestId, query);
    });
  }

  function serve(ws: WebSocket, requestId: string, query: Record<string, string>): void {
    const model = query.model ?? 'aura-asteria-en';
    const sampleRate = Number(query.sample_rate ?? 24000);
    const speed = query.speed === undefined ? 1 : Number(query.speed);
    const record: SpeakConnectionRecord = {
      requestId,
      model,
      query,
      openedAt: Date.now(),
      texts: [],
      characters: 0,
      audioSeconds: 0,
      flushes: 0,
      firstAudioMs: [],
    };
    recorded.push(record);
    let buffer = '';
    let sequence = 0;
    /** Bumped by Clear: audio of an earlier generation stops going out. */
    let generation = 0;
    let queue: Promise<void> = Promise.resolve();
    const closed = new AbortController();
    ws.once('close', (code) => {
      record.closedAt = Date.now();
      record.closeCode = code;
      closed.abort();
    });
    const sendJson = (message: Record<string, unknown>) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    sendJson({
      type: 'Metadata',
      request_id: requestId,
      model_name: model,
      model_version: '2025-04-07.0',
      model_uuid: '8a3b5c1e-1b7f-4f0c-9a3e-6f7e2d3c4b5a',
    });

    const flush = async (text: string, flushedAt: number, sequenceId: number, ownGeneration: number) => {
      const failure = settings().outage ?? failures.shift();
      if (failure) record.failure = failure.kind;
      if (failure?.kind === 'error') {
        sendJson({
          type: 'Error',
          err_code: 'INTERNAL_SERVER_ERROR',
          err_msg: 'Synthesis failed (simulated).',
        });
        ws.close(1011, 'INTERNAL_SERVER_ERROR');
        return;
      }
      if (failure?.kind === 'disconnect' && !failure.afterAudio) {
        ws.terminate();
        return;
      }
      if (failure?.kind === 'stall') {
        await new Promise<void>((resolve) =>
          closed.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        return;
      }
      if (text.trim()) {
        const pcm = await synthesizeSpeech(text, { sampleRate, speed });
        await sleep(flushedAt + settings().profile.ttsTtfbMs - Date.now(), closed.signal);
        const chunkBytes = Math.round((sampleRate * CHUNK_MS) / 1000) * 2;
        const started = Date.now();
        for (let offset = 0, i = 0; offset < pcm.length; offset += chunkBytes, i++) {
          if (closed.signal.aborted || ownGeneration !== generation) return;
          if (i === 0) record.firstAudioMs.push(Date.now() - flushedAt);
          const chunk = pcm.subarray(offset, offset + chunkBytes);
          ws.send(chunk);
          record.audioSeconds += chunk.length / 2 / sampleRate;
          if (i === 0 && failure?.kind === 'disconnect') {
            ws.terminate();
            return;
          }
          await sleep(started + ((i + 1) * CHUNK_MS) / GENERATION_SPEED - Date.now(), closed.signal);
        }
      }
      if (ownGeneration === generation) sendJson({ type: 'Flushed', sequence_id: sequenceId });
    };

    ws.on('message', (data: RawData, isBinary: boolean) => {
      let message: { type?: unknown; text?: unknown };
      try {
        if (isBinary) throw new Error('binary');
        message = JSON.parse(data.toString());
      } catch {
        sendJson({
          type: 'Warning',
          warn_code: 'INVALID_MESSAGE',
          warn_msg: 'Expected a JSON text message.',
        });
        return;
      }
      switch (message.type) {
        case 'Speak': {
          if (typeof message.text !== 'string') {
            sendJson({
              type: 'Warning',
              warn_code: 'INVALID_MESSAGE',
              warn_msg: 'Speak needs a text field.',
            });
            return;
          }
          if (message.text.length > MAX_SPEAK_CHARACTERS) {
            sendJson({
              type: 'Error',
              err_code: 'TEXT_TOO_LONG',
              err_msg: `Speak text exceeds ${MAX_SPEAK_CHARACTERS} characters.`,
            });
            ws.close(1008, 'TEXT_TOO_LONG');
            return;
          }
          record.texts.push(message.text);
          record.characters += message.text.length;
          buffer += message.text;
          return;
        }
        case 'Flush': {
          record.flushes += 1;
          const text = buffer;
          buffer = '';
          const flushedAt = Date.now();
          const sequenceId = sequence++;
          const ownGeneration = generation;
          queue = queue
            .then(() => flush(text, flushedAt, sequenceId, ownGeneration))
            .catch(() => ws.close(1011));
          return;
        }
        case 'Clear':
          buffer = '';
          generation += 1;
          sendJson({ type: 'Cleared', sequence_id: sequence });
          return;
        case 'Close':
          // Deepgram finishes what was flushed, then closes.
          queue = queue.then(() => ws.close(1000)).catch(() => undefined);
          return;
        default:
          sendJson({
            type: 'Warning',
            warn_code: 'UNKNOWN_MESSAGE_TYPE',
            warn_msg: `Unknown message type: ${String(message.type)}`,
          });
      }
    });
  }

  return {
    recorded,
    handleUpgrade,
    queueFailures(next) {
      failures.push(...next);
    },
    reset() {
      recorded.length = 0;
      failures = [];
    },
  };
}

function validateSpeakQuery(query: Record<string, string>): string | undefined {
  if (query.model !== undefined && !DEEPGRAM_SPEECH_MODELS.has(query.model)) {
    return `No such model: ${query.model}. Use an Aura-2 voice such as aura-2-thalia-en.`;
  }
  const encoding = query.encoding ?? 'linear16';
  if (!['linear16', 'mulaw', 'alaw'].includes(encoding)) {
    return `Unsupported encoding "${encoding}" for streaming speech (linear16, mulaw or alaw).`;
  }
  if (encoding !== 'linear16') return `The stand-in produces linear16 only (got ${encoding}).`;
  if (query.sample_rate !== undefined && !LINEAR16_RATES.has(Number(query.sample_rate))) {
    return `Unsupported sample_rate ${query.sample_rate} for linear16 (8000, 16000, 24000, 32000 or 48000).`;
  }
  if (query.speed !== undefined) {
    const speed = Number(query.speed);
    if (!Number.isFinite(speed) || speed < 0.7 || speed > 1.5) return 'speed must be between 0.7 and 1.5.';
  }
  return undefined;
}
