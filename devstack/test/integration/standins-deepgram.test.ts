import { initializeLogger, stt } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type PausedSpeechClip,
  pausedSpeechClip,
  type SpeechClip,
  silenceClip,
  speechClip,
  transcriptByDuration,
} from '../../src/standins/fixtures.ts';
import { type ProviderStandins, startProviderStandins } from '../../src/standins/index.ts';

// Contract: the real @livekit/agents-plugin-deepgram STT stream, pointed at the stand-in through `baseUrl`,
// surfaces transcripts for speech and nothing for silence. These tests need no stack of their own.

const WEATHER = 'What is the weather like in Paris today?';
const SHORT = 'Thank you.';

let standins: ProviderStandins;
let weather: SpeechClip;
let short: SpeechClip;
let silence: SpeechClip;
/** "I'd like to know … the weather in Lisbon", with an 800 ms pause. */
let paused: PausedSpeechClip;
const PARTS = ["I'd like to know", 'the weather in Lisbon.'];

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins();
  [weather, short, silence, paused] = await Promise.all([
    speechClip(WEATHER),
    speechClip(SHORT),
    silenceClip(3),
    pausedSpeechClip(PARTS, 800),
  ]);
});
afterAll(async () => {
  await standins?.stop();
});
beforeEach(() => standins.reset());

function newStream(options: Partial<deepgram.STTOptions> = {}) {
  const recognizer = new deepgram.STT({
    baseUrl: standins.deepgramUrl,
    apiKey: 'test-deepgram-key',
    sampleRate: 16_000,
    ...options,
  });
  return recognizer.stream();
}

/** Pushes a clip as 10 ms frames, as fast as the stream takes them (the stand-in counts audio time, not wall time). */
function pushClip(stream: ReturnType<typeof newStream>, clip: SpeechClip): void {
  const frameSamples = clip.sampleRate / 100;
  for (let offset = 0; offset < clip.samples.length; offset += frameSamples) {
    const data = clip.samples.slice(offset, offset + frameSamples);
    stream.pushFrame(new AudioFrame(data, clip.sampleRate, 1, data.length));
  }
}

/** Collects events until `until` says stop (or the stream ends), with a deadline. */
async function collect(
  stream: ReturnType<typeof newStream>,
  until: (events: stt.SpeechEvent[]) => boolean,
  timeoutMs = 15_000,
): Promise<stt.SpeechEvent[]> {
  const events: stt.SpeechEvent[] = [];
  const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
  const iterator = stream[Symbol.asyncIterator]();
  while (!until(events)) {
    const next = await Promise.race([iterator.next(), deadline]);
    if (next === 'timeout' || next.done) break;
    events.push(next.value);
  }
  return events;
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const finals = (events: stt.SpeechEvent[]) =>
  events.filter((e) => e.type === stt.SpeechEventType.FINAL_TRANSCRIPT).map((e) => e.alternatives?.[0]?.text);

describe('Deepgram live STT stand-in, driven by @livekit/agents-plugin-deepgram', () => {
  it('turns speech followed by silence into start of speech, interim and final transcripts, and end of speech', async () => {
    standins.configure({ sttScript: [WEATHER] });
    const stream = newStream();
    pushClip(stream, weather);
    const events = await collect(stream, (es) =>
      es.some((e) => e.type === stt.SpeechEventType.END_OF_SPEECH),
    );
    stream.endInput();
    stream.close();

    const types = events.map((e) => e.type).filter((t) => t !== stt.SpeechEventType.RECOGNITION_USAGE);
    expect(types[0]).toBe(stt.SpeechEventType.START_OF_SPEECH);
    expect(types.at(-1)).toBe(stt.SpeechEventType.END_OF_SPEECH);
    expect(finals(events)).toEqual([WEATHER]);
    const interims = events.filter((e) => e.type === stt.SpeechEventType.INTERIM_TRANSCRIPT);
    expect(interims.length).toBeGreaterThan(0);
    for (const interim of interims) expect(WEATHER.startsWith(interim.alternatives![0]!.text)).toBe(true);

    // Word timings sit where the speech is in the clip (300 ms of lead silence).
    const final = events.find((e) => e.type === stt.SpeechEventType.FINAL_TRANSCRIPT)!.alternatives![0]!;
    expect(final.words?.map((w) => w.text)).toEqual(WEATHER.split(' '));
    expect(final.startTime).toBeGreaterThan(0.25);
    expect(final.startTime).toBeLessThan(0.45);
    expect(final.endTime - final.startTime).toBeCloseTo(weather.speechSeconds, 1);

    const record = standins.recorded.stt[0]!;
    expect(record.query).toMatchObject({
      encoding: 'linear16',
      sample_rate: '16000',
      interim_results: 'true',
    });
    expect(record.transcripts).toEqual([WEATHER]);
    expect(record.speechSeconds).toBeCloseTo(weather.speechSeconds, 1);
    // The plugin drops silence after 1 s of cooldown, so the stand-in hears less than the whole clip.
    expect(record.audioSeconds).toBeGreaterThan(weather.speechSeconds);
    expect(record.audioSeconds).toBeLessThanOrEqual(weather.durationSeconds + 0.01);
  });

  it('yields no transcript for silence, even when the client finalizes and closes', async () => {
    const stream = newStream();
    pushClip(stream, silence);
    // Let the plugin connect and send the first second (it drops silence after that) before finalizing.
    await waitFor(() => (standins.recorded.stt[0]?.audioSeconds ?? 0) >= 0.9);
    stream.flush(); // the plugin sends Finalize
    stream.endInput(); // ... and CloseStream
    const events = await collect(stream, () => false, 8_000);
    const transcripts = events.filter(
      (e) =>
        e.type === stt.SpeechEventType.FINAL_TRANSCRIPT || e.type === stt.SpeechEventType.INTERIM_TRANSCRIPT,
    );
    expect(transcripts).toEqual([]);
    expect(events.some((e) => e.type === stt.SpeechEventType.START_OF_SPEECH)).toBe(false);
    const record = standins.recorded.stt[0]!;
    expect(record.controlMessages).toEqual(expect.arrayContaining(['Finalize', 'CloseStream']));
    expect(record.transcripts).toEqual([]);
    expect(record.speechSeconds).toBe(0);
    expect(record.closeCode).toBe(1000);
  });

  it('follows a conversation: two utterances in one stream, matched to their clips by duration', async () => {
    standins.configure({ sttScript: transcriptByDuration([weather, short]) });
    const stream = newStream();
    pushClip(stream, short);
    pushClip(stream, weather);
    const events = await collect(stream, (es) => finals(es).length >= 2);
    stream.endInput();
    stream.close();
    expect(finals(events)).toEqual([SHORT, WEATHER]);
  });

  it('finalizes pending speech on Finalize (from_finalize) without waiting for silence', async () => {
    standins.configure({ sttScript: ['cut short'] });
    const stream = newStream();
    // Speech only, no trailing silence: without Finalize there would be no endpoint.
    const speechOnly = {
      ...weather,
      samples: weather.samples.slice(0, Math.round(weather.sampleRate * 1.5)),
    };
    pushClip(stream, speechOnly);
    stream.flush();
    const events = await collect(stream, (es) => finals(es).length >= 1);
    stream.endInput();
    stream.close();
    expect(finals(events)).toEqual(['cut short']);
  });

  it('sends the final transcript sttFinalMs after the end of speech (loose bounds)', async () => {
    standins.configure({ sttScript: [WEATHER], profile: { sttFinalMs: 600 } });
    const stream = newStream();
    pushClip(stream, weather);
    const pushedAt = Date.now();
    const events = await collect(stream, (es) => finals(es).length >= 1);
    const elapsed = Date.now() - pushedAt;
    stream.endInput();
    stream.close();
    expect(finals(events)).toEqual([WEATHER]);
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(2_500);
    // The record carries the injected delay for benchmarks: end of speech received → final sent.
    const [timing] = standins.recorded.stt[0]!.finals;
    expect(timing!.sentAt! - timing!.speechEndReceivedAt).toBeGreaterThanOrEqual(595);
    expect(timing!.sentAt! - timing!.speechEndReceivedAt).toBeLessThan(1_500);
  });

  it('ends an utterance at each pause longer than endpointing: a sentence with a pause gives two finals', async () => {
    standins.configure({ sttScript: [...PARTS] });
    const stream = newStream({ endpointing: 25 });
    pushClip(stream, paused);
    const events = await collect(
      stream,
      (es) => es.filter((e) => e.type === stt.SpeechEventType.END_OF_SPEECH).length >= 2,
    );
    stream.endInput();
    stream.close();
    expect(finals(events)).toEqual(PARTS);
    // Each final is an endpoint (speech_final), so the plugin reports two ends of speech.
    const types = events.map((e) => e.type).filter((t) => t !== stt.SpeechEventType.RECOGNITION_USAGE);
    const ends = types.filter((t) => t === stt.SpeechEventType.END_OF_SPEECH);
    expect(ends).toHaveLength(2);
    const record = standins.recorded.stt[0]!;
    expect(record.finals.map((f) => f.speechFinal)).toEqual([true, true]);
    expect(record.query.endpointing).toBe('25');
  });

  it('keeps the sentence in one utterance when endpointing is longer than the pause', async () => {
    standins.configure({ sttScript: [PARTS.join(' ')] });
    const stream = newStream({ endpointing: 1000 });
    pushClip(stream, paused);
    const events = await collect(stream, (es) => finals(es).length >= 1);
    stream.endInput();
    stream.close();
    expect(finals(events)).toEqual([PARTS.join(' ')]);
    const [final] = standins.recorded.stt[0]!.finals;
    expect(final!.speechFinal).toBe(true);
  });

  it('sends UtteranceEnd after utterance_end_ms of silence when endpointing is off', async () => {
    standins.configure({ sttScript: [WEATHER] });
    const stream = newStream({ endpointing: 0, utteranceEndMs: 1000 });
    pushClip(stream, weather);
    const events = await collect(stream, (es) =>
      es.some((e) => e.type === stt.SpeechEventType.END_OF_SPEECH),
    );
    stream.endInput();
    stream.close();
    expect(finals(events)).toEqual([WEATHER]);
    const record = standins.recorded.stt[0]!;
    expect(record.query).toMatchObject({ endpointing: 'false', utterance_end_ms: '1000' });
    // The final itself is no endpoint; the plugin's end of speech came from UtteranceEnd.
    expect(record.finals.map((f) => f.speechFinal)).toEqual([false]);
    expect(record.utteranceEnds).toBe(1);
  });

  it('answers 400 to utterance_end_ms below 1000, like Deepgram', async () => {
    const url = `${standins.deepgramUrl}/v1/listen?encoding=linear16&sample_rate=16000&interim_results=true&utterance_end_ms=500`;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: 'Token test' } });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('utterance_end_ms=500 was accepted')));
      ws.once('error', () => undefined);
    });
    expect(status).toBe(400);
  });

  it('does not split an utterance when audio stops arriving for a while (a stalled client or network)', async () => {
    standins.configure({ sttScript: [WEATHER] });
    const url = `${standins.deepgramUrl}/v1/listen?encoding=linear16&sample_rate=16000&endpointing=300&interim_results=false`;
    const ws = new WebSocket(url, { headers: { authorization: 'Token test' } });
    const messages: Array<{ type: string; is_final?: boolean; channel?: unknown }> = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const bytes = Buffer.from(weather.samples.buffer, weather.samples.byteOffset, weather.samples.byteLength);
    // Lead silence and the first second of speech, then nothing for 1.2 s (a stall mid-word), then the rest.
    const cut = Math.round((0.3 + 1.0) * weather.sampleRate) * 2;
    ws.send(bytes.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 1_200));
    ws.send(bytes.subarray(cut));
    await waitFor(() => messages.some((m) => m.type === 'Results' && m.is_final));
    ws.close();
    const finalsSent = messages.filter((m) => m.type === 'Results' && m.is_final);
    expect(finalsSent).toHaveLength(1);
    expect(standins.recorded.stt[0]!.transcripts).toEqual([WEATHER]);
  });

  it('rejects a connection without credentials with 401, like Deepgram', async () => {
    const url = `${standins.deepgramUrl}/v1/listen?encoding=linear16&sample_rate=16000`;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('connection was accepted without credentials')));
      ws.once('error', () => undefined);
    });
    expect(status).toBe(401);
  });
});
