import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  createDeepgramSpeakHandler,
  type SpeakConnectionRecord,
  type SpeakFailure,
  type SpeakSettings,
} from './deepgram-speak.ts';
import { type ListeningServer, listenOnFreePort, sendJson } from './http.ts';
import type { LatencyProfile } from './profile.ts';
import { DEFAULT_SPEECH_DETECTOR, SpeechDetector, type SpeechDetectorOptions } from './speech-detector.ts';
import type { SttTranscriptSource, SttUtterance } from './stt-script.ts';

/**
 * Deepgram live transcription stand-in: `GET /v1/listen` upgraded to a WebSocket, linear16 audio in, JSON
 * messages out in Deepgram's shapes (Results, SpeechStarted, UtteranceEnd, Metadata), reacting to the audio's
 * energy. What @livekit/agents-plugin-deepgram 1.9 reads: Results.{is_final, speech_final, metadata.request_id,
 * channel.alternatives[].{transcript, confidence, words[].{word, punctuated_word, start, end, confidence}}},
 * SpeechStarted and UtteranceEnd by `type`.
 */

export interface SttConnectionRecord {
  requestId: string;
  query: Record<string, string>;
  openedAt: Date;
  closedAt?: Date;
  /** Every second of audio received (what Deepgram bills). */
  audioSeconds: number;
  /** Binary (audio) messages received: audioSeconds / audioMessages is the client's chunk length. */
  audioMessages: number;
  /** Seconds of detected utterances (first to last voiced frame). */
  speechSeconds: number;
  /** Final transcripts sent, in order. */
  transcripts: string[];
  /**
   * One entry per final: when the last voiced audio of the utterance arrived and when the final went out
   * (epoch ms). Their difference is the STT latency this stand-in injected: max(sttFinalMs, the silence it
   * needs to call the endpoint), which benchmarks subtract from voice-to-voice latency.
   */
  finals: Array<{
    text: string;
    speechEndReceivedAt: number;
    sentAt?: number;
    fromFinalize: boolean;
    /** Sent with speech_final: true (an endpoint), as opposed to a Finalize or a hangover final. */
    speechFinal: boolean;
  }>;
  /** UtteranceEnd messages sent. */
  utteranceEnds: number;
  /** Control messages received (KeepAlive, Finalize, CloseStream, ...). */
  controlMessages: string[];
  closeCode?: number;
}

export interface DeepgramSettings {
  profile: LatencyProfile;
  speechDetector: SpeechDetectorOptions;
  /** Speech (`/v1/speak`) while set: every Flush fails this way. */
  speakOutage?: SpeakSettings['outage'];
}

const MODEL_UUID = '1b0e4c1f-7b35-4a3c-9c21-5b3a5d2e0f00';
/** Deepgram closes a stream that has received neither audio nor a text message for this long (NET-0001). */
const IDLE_TIMEOUT_MS = 10_000;
const INTERIM_EVERY_SECONDS = 0.5;
/**
 * Shortest pause the stand-in calls an endpoint, whatever `endpointing` asks (Deepgram's default is 10 ms, the
 * plugin's 25 ms). Deepgram's endpointing runs a speech model's VAD, which does not fire between the words of a
 * fluent phrase; this stand-in's energy detector hears every stop consonant's closure and every word boundary of
 * synthetic speech as silence. Measured on the test sentences: espeak-ng has gaps of up to ~150 ms inside fluent
 * speech ("What is the weather like in Paris today?" is five utterances at 20 ms, one from 60 ms), Flite's `slt`
 * voice up to ~200 ms ("Hold on what flour is best for pizza dough?" is two at 100 ms, one from 150 ms; "Wait what
 * is the best flour …" one from 200 ms). From 250 ms a pause is one a listener hears, so mid-sentence pauses of
 * 300 ms and more each give a final, as at Deepgram with short settings.
 */
export const ENDPOINTING_FLOOR_MS = DEFAULT_SPEECH_DETECTOR.endpointingFloorMs;
/** Deepgram rejects utterance_end_ms below this (its interim results come about once a second). */
export const MIN_UTTERANCE_END_MS = 1000;
/**
 * When audio stops arriving mid-stream, the gap counts as silence only once it cannot be a stall of a loaded
 * machine or network: after the stream itself has shown this much trailing silence (the plugin keeps sending
 * the first second of silence, then drops frames), or after IDLE_AS_SILENCE_AFTER_S of no audio at all.
 */
const TRAILING_SILENCE_BEFORE_IDLE_S = 0.8;
const IDLE_AS_SILENCE_AFTER_S = 2;
export async function startDeepgramStandin(
  host: string,
  settings: () => DeepgramSettings,
  transcripts: SttTranscriptSource,
): Promise<{
  url: string;
  recorded: SttConnectionRecord[];
  speech: SpeakConnectionRecord[];
  queueSpeakFailures(failures: SpeakFailure[]): void;
  stop(): Promise<void>;
  reset(): void;
}> {
  const recorded: SttConnectionRecord[] = [];
  let connections = 0;
  const live = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 8 * 1024 * 1024 });
  const requestIds = new WeakMap<IncomingMessage, string>();
  const server = createServer((req, res) => answerPlainHttp(req, res));
  const speak = createDeepgramSpeakHandler(
    wss,
    live,
    () => ({ profile: settings().profile, outage: settings().speakOutage }),
    rejectUpgrade,
  );

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/v1/speak') return speak.handleUpgrade(req, socket, head, url);
    const requestId = randomUUID();
    if (url.pathname !== '/v1/listen') return rejectUpgrade(socket, 404, 'Not Found', requestId);
    if (!/^(token|bearer)\s+\S+/i.test(req.headers.authorization ?? '')) {
      return rejectUpgrade(socket, 401, 'INVALID_AUTH', requestId, 'Invalid credentials.');
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const problem = validateQuery(query);
    if (problem) return rejectUpgrade(socket, 400, 'Bad Request', requestId, problem);
    requestIds.set(req, requestId);
    wss.handleUpgrade(req, socket, head, (ws) => {
      live.add(ws);
      ws.once('close', () => live.delete(ws));
      const record: SttConnectionRecord = {
        requestId,
        query,
        openedAt: new Date(),
        audioSeconds: 0,
        audioMessages: 0,
        speechSeconds: 0,
        transcripts: [],
        finals: [],
        utteranceEnds: 0,
        controlMessages: [],
      };
      recorded.push(record);
      runConnection(ws, record, connections++, settings, transcripts);
    });
  });
  // Deepgram answers the upgrade with its request id; clients log it.
  wss.on('headers', (headers, req) => headers.push(`dg-request-id: ${requestIds.get(req) ?? randomUUID()}`));

  const listening: ListeningServer = await listenOnFreePort(server, host);
  return {
    url: `ws://${host}:${listening.port}`,
    recorded,
    speech: speak.recorded,
    queueSpeakFailures: (failures) => speak.queueFailures(failures),
    reset() {
      recorded.length = 0;
      connections = 0;
      speak.reset();
    },
    async stop() {
      for (const ws of live) ws.terminate();
      wss.close();
      await listening.close();
    },
  };
}

function answerPlainHttp(_req: IncomingMessage, res: ServerResponse): void {
  // Pre-recorded transcription (POST /v1/listen) is not simulated: the agent streams.
  sendJson(res, 405, {
    err_code: 'METHOD_NOT_ALLOWED',
    err_msg:
      'The Deepgram stand-in serves live transcription (WebSocket /v1/listen) and streaming speech (WebSocket /v1/speak) only.',
  });
}

function rejectUpgrade(
  socket: Duplex,
  status: number,
  code: string,
  requestId: string,
  message = code,
): void {
  const body = JSON.stringify({ err_code: code, err_msg: message, request_id: requestId });
  const reason = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `dg-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function validateQuery(query: Record<string, string>): string | undefined {
  const encoding = query.encoding;
  if (encoding === undefined) {
    return 'The stand-in needs raw audio: set encoding=linear16 and sample_rate (containerized audio is not simulated).';
  }
  if (encoding !== 'linear16') return `Unsupported encoding "${encoding}" (the stand-in accepts linear16).`;
  const rate = Number(query.sample_rate);
  if (!Number.isInteger(rate) || rate < 8000 || rate > 192000) {
    return 'sample_rate is required for linear16 and must be an integer in Hz.';
  }
  const channels = Number(query.channels ?? '1');
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) return 'channels must be an integer 1-8.';
  const endpointing = query.endpointing;
  if (
    endpointing !== undefined &&
    endpointing !== 'false' &&
    endpointing !== 'true' &&
    !/^\d+$/.test(endpointing)
  ) {
    return 'endpointing must be false or a number of milliseconds.';
  }
  if (query.utterance_end_ms !== undefined) {
    if (!/^\d+$/.test(query.utterance_end_ms)) return 'utterance_end_ms must be a number of milliseconds.';
    if (Number(query.utterance_end_ms) < MIN_UTTERANCE_END_MS) {
      return `utterance_end_ms must be at least ${MIN_UTTERANCE_END_MS}.`;
    }
  }
  return undefined;
}

function runConnection(
  ws: WebSocket,
  record: SttConnectionRecord,
  connectionIndex: number,
  settings: () => DeepgramSettings,
  transcripts: SttTranscriptSource,
): void {
  const query = record.query;
  const sampleRate = Number(query.sample_rate);
  const channels = Number(query.channels ?? '1');
  const interimResults = query.interim_results === 'true';
  const vadEvents = query.vad_events === 'true';
  // Deepgram's default endpointing is 10 ms; "false" turns speech_final off (finals then come after the
  // detector's hangover, without speech_final). Short settings end an utterance at every pause a listener
  // would hear (ENDPOINTING_FLOOR_MS), so a sentence with pauses yields several finals, as at Deepgram.
  const endpointingMs =
    query.endpointing === 'false'
      ? undefined
      : query.endpointing === 'true'
        ? 10
        : Number(query.endpointing ?? 10);
  // UtteranceEnd works from the timing of interim results: without them Deepgram never sends it.
  const utteranceEndMs =
    query.utterance_end_ms === undefined || !interimResults ? undefined : Number(query.utterance_end_ms);
  const detectorOptions = settings().speechDetector;
  const minSilenceMs =
    endpointingMs === undefined
      ? detectorOptions.minSilenceMs
      : Math.max(detectorOptions.endpointingFloorMs, endpointingMs);
  const detector = new SpeechDetector(sampleRate, detectorOptions);
  const audioHash = createHash('sha256');
  const model = query.model ?? 'nova-3';
  // Without punctuate/smart_format Deepgram answers in lower case without punctuation.
  const formatted = query.punctuate === 'true' || query.smart_format === 'true';

  let carry: Buffer | undefined; // an odd trailing byte, or a partial multi-channel sample
  let lastMessageAt = Date.now();
  let lastAudioAt = Date.now();
  // Wall-clock time when the last voiced audio arrived: sttFinalMs counts from there.
  let lastVoicedReceivedAt = Date.now();
  let lastInterimAt = 0;
  let pendingUtteranceEnd: number | undefined; // stream seconds of the last word of the last final
  let closing = false;
  let outbox: Promise<void> = Promise.resolve();

  /** Sends in order; each message waits until `notBefore` (epoch ms) so a delayed final keeps its place. */
  const send = (message: object, notBefore = 0) => {
    outbox = outbox.then(async () => {
      const wait = notBefore - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    });
    return outbox;
  };

  const utteranceAt = (start: number, end: number, voicedSeconds: number, index: number): SttUtterance => ({
    index,
    connectionIndex,
    speechSeconds: end - start,
    voicedSeconds,
    startSeconds: start,
  });

  const results = (
    text: string,
    start: number,
    end: number,
    flags: { isFinal: boolean; speechFinal: boolean; fromFinalize?: boolean },
  ) => ({
    type: 'Results',
    channel_index: [0, 1],
    duration: round(Math.max(0, detector.streamSeconds - start)),
    start: round(start),
    is_final: flags.isFinal,
    speech_final: flags.speechFinal,
    ...(flags.fromFinalize ? { from_finalize: true } : {}),
    channel: {
      alternatives: [
        {
          transcript: formatted ? text : plainWords(text).join(' '),
          confidence: text ? 0.98 : 0,
          words: timedWords(text, start, end, formatted),
        },
      ],
    },
    metadata: {
      request_id: record.requestId,
      model_info: { name: `general-${model}`, version: '2025-01-01.0', arch: model },
      model_uuid: MODEL_UUID,
    },
  });

  const finishUtterance = (start: number, end: number, voicedSeconds: number, fromFinalize: boolean) => {
    const utterance = utteranceAt(start, end, voicedSeconds, transcripts.claimIndex());
    const text = transcripts.take(utterance);
    record.speechSeconds += end - start;
    record.transcripts.push(text);
    const speechFinal = !fromFinalize && endpointingMs !== undefined;
    const timing: SttConnectionRecord['finals'][number] = {
      text,
      speechEndReceivedAt: lastVoicedReceivedAt,
      fromFinalize,
      speechFinal,
    };
    record.finals.push(timing);
    const notBefore = lastVoicedReceivedAt + settings().profile.sttFinalMs;
    void send(
      results(text, start, end, {
        isFinal: true,
        speechFinal,
        fromFinalize,
      }),
      notBefore,
    ).then(() => {
      timing.sentAt = Date.now();
    });
    pendingUtteranceEnd = utteranceEndMs === undefined ? undefined : end;
  };

  const maybeSendUtteranceEnd = (silenceSeconds: number) => {
    if (pendingUtteranceEnd === undefined || utteranceEndMs === undefined || detector.inSpeech) return;
    if (silenceSeconds * 1000 < utteranceEndMs) return;
    send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: round(pendingUtteranceEnd) });
    record.utteranceEnds += 1;
    pendingUtteranceEnd = undefined;
  };

  const onAudio = (data: Buffer) => {
    lastAudioAt = Date.now();
    record.audioMessages += 1;
    const bytes = carry ? Buffer.concat([carry, data]) : data;
    const frameBytes = 2 * channels;
    const usable = bytes.length - (bytes.length % frameBytes);
    carry = usable < bytes.length ? Buffer.from(bytes.subarray(usable)) : undefined;
    audioHash.update(bytes.subarray(0, usable));
    const frames = usable / frameBytes;
    record.audioSeconds += frames / sampleRate;
    const mono = new Int16Array(frames);
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += bytes.readInt16LE((i * channels + c) * 2);
      mono[i] = Math.round(sum / channels);
    }
    const wasVoicedEnd = detector.lastVoicedEnd;
    for (const event of detector.push(mono, minSilenceMs)) {
      if (event.type === 'speech_start') {
        pendingUtteranceEnd = undefined;
        lastInterimAt = event.at;
        if (vadEvents) send({ type: 'SpeechStarted', channel: [0, 1], timestamp: round(event.at) });
      } else {
        finishUtterance(event.start, event.end, event.voicedSeconds, false);
      }
    }
    if (detector.lastVoicedEnd !== wasVoicedEnd) lastVoicedReceivedAt = Date.now();
    const upcoming = detector.inSpeech && interimResults ? transcripts.peek() : undefined;
    if (upcoming !== undefined && detector.streamSeconds - lastInterimAt >= INTERIM_EVERY_SECONDS) {
      lastInterimAt = detector.streamSeconds;
      const partial = interimPrefix(upcoming, detector.lastVoicedEnd - detector.speechStart);
      send(
        results(partial, detector.speechStart, detector.lastVoicedEnd, {
          isFinal: false,
          speechFinal: false,
        }),
      );
    }
    maybeSendUtteranceEnd(detector.streamSeconds - (pendingUtteranceEnd ?? 0));
  };

  /** Finalize and CloseStream: whatever speech is pending becomes a final now (from_finalize: true). */
  const flushPending = () => {
    const event = detector.flush();
    if (event?.type === 'speech_end') finishUtterance(event.start, event.end, event.voicedSeconds, true);
    else
      send(
        results('', detector.streamSeconds, detector.streamSeconds, {
          isFinal: true,
          speechFinal: false,
          fromFinalize: true,
        }),
      );
  };

  const close = (code: number, reason: string) => {
    if (closing) return;
    closing = true;
    clearInterval(ticker);
    void outbox.then(() => {
      record.closeCode = code;
      if (ws.readyState === ws.OPEN) ws.close(code, reason);
    });
  };

  // Time passes for a stream even when audio stops coming (the plugin drops silent frames after ~1 s): the
  // idle time counts as silence for endpointing and UtteranceEnd, and 10 s without anything closes the stream.
  const ticker = setInterval(() => {
    const now = Date.now();
    if (now - lastMessageAt > IDLE_TIMEOUT_MS) {
      close(
        1011,
        'Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001',
      );
      return;
    }
    // Clients send every 20–100 ms; only a longer gap means the audio has stopped (not just between chunks).
    // A timer that fires late on a loaded machine (it runs before the socket's queued audio is read) or a stalled
    // network also looks like stopped audio: the gap counts as silence only when it cannot be one (see
    // TRAILING_SILENCE_BEFORE_IDLE_S), so a stall never splits an utterance.
    const rawIdleSeconds = (now - lastAudioAt) / 1000;
    const trailingSilence = detector.streamSeconds - (detector.inSpeech ? detector.lastVoicedEnd : 0);
    const idleSeconds =
      rawIdleSeconds >= 0.25 &&
      (rawIdleSeconds >= IDLE_AS_SILENCE_AFTER_S ||
        (detector.inSpeech
          ? trailingSilence >= TRAILING_SILENCE_BEFORE_IDLE_S
          : detector.streamSeconds - (pendingUtteranceEnd ?? 0) >= TRAILING_SILENCE_BEFORE_IDLE_S))
        ? rawIdleSeconds
        : 0;
    if (idleSeconds === 0) return;
    if (detector.inSpeech && (trailingSilence + idleSeconds) * 1000 >= minSilenceMs) {
      const event = detector.flush();
      if (event?.type === 'speech_end') finishUtterance(event.start, event.end, event.voicedSeconds, false);
    }
    if (pendingUtteranceEnd !== undefined) {
      maybeSendUtteranceEnd(detector.streamSeconds - pendingUtteranceEnd + idleSeconds);
    }
  }, 50);

  ws.on('message', (data, isBinary) => {
    lastMessageAt = Date.now();
    if (closing) return;
    if (isBinary) return onAudio(toBuffer(data));
    let type: unknown;
    try {
      type = (JSON.parse(toBuffer(data).toString('utf8')) as { type?: unknown }).type;
    } catch {
      type = undefined;
    }
    record.controlMessages.push(typeof type === 'string' ? type : 'invalid');
    if (type === 'KeepAlive') return;
    if (type === 'Finalize') return flushPending();
    if (type === 'CloseStream') {
      flushPending();
      send({
        type: 'Metadata',
        transaction_key: 'deprecated',
        request_id: record.requestId,
        sha256: audioHash.digest('hex'),
        created: record.openedAt.toISOString(),
        duration: round(record.audioSeconds),
        channels,
        models: [MODEL_UUID],
        model_info: { [MODEL_UUID]: { name: `general-${model}`, version: '2025-01-01.0', arch: model } },
      });
      return close(1000, '');
    }
    // Deepgram ignores text frames it does not understand; so do we (recorded above).
  });
  ws.on('close', (code) => {
    clearInterval(ticker);
    closing = true;
    record.closedAt = new Date();
    record.closeCode ??= code;
  });
  ws.on('error', () => ws.terminate());
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return Buffer.from(data as ArrayBuffer);
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Words spread over the utterance in proportion to their length, like Deepgram's word timings. */
function timedWords(text: string, start: number, end: number, formatted: boolean) {
  const words = text.split(/\s+/).filter((w) => plainWords(w).length > 0);
  const total = words.reduce((n, w) => n + w.length, 0) || 1;
  let cursor = start;
  return words.map((punctuated) => {
    const span = ((end - start) * punctuated.length) / total;
    const word = {
      word: plainWords(punctuated)[0] ?? '',
      start: round(cursor),
      end: round(cursor + span),
      confidence: 0.98,
      ...(formatted ? { punctuated_word: punctuated } : {}),
    };
    cursor += span;
    return word;
  });
}

function plainWords(text: string): string[] {
  return text
    .split(/\s+/)
    .map((w) => w.toLowerCase().replace(/[^\p{L}\p{N}'-]/gu, ''))
    .filter(Boolean);
}

/** An interim result grows with the speech heard so far (about 2.5 words a second). */
function interimPrefix(text: string, heardSeconds: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const count = Math.min(words.length, Math.max(1, Math.ceil(heardSeconds * 2.5)));
  return words.slice(0, count).join(' ');
}
