import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { synthesizeSpeech } from '../../src/standins/espeak.ts';
import { type ProviderStandins, startProviderStandins } from '../../src/standins/index.ts';

// Contract: the `openai` package's own Realtime WebSocket client (`openai/realtime/ws`), pointed at the stand-in
// through the client's baseURL, runs a speech-only session: session.update for audio output, out-of-band
// responses that read a text aloud, usage in response.done, cancel, and the real API's refusals.

let standins: ProviderStandins;

beforeAll(async () => {
  standins = await startProviderStandins({ profile: { ttsTtfbMs: 150 } });
});
afterAll(async () => {
  await standins?.stop();
});
beforeEach(() => standins.reset());

interface Session {
  rt: OpenAIRealtimeWS;
  events: RealtimeServerEvent[];
  closed: Promise<{ code: number; reason: string }>;
  next(type: RealtimeServerEvent['type'], after?: number): Promise<RealtimeServerEvent>;
}

async function connect(model = 'gpt-realtime-2.1-mini', apiKey = 'test-openai-key'): Promise<Session> {
  const client = new OpenAI({ apiKey, baseURL: standins.openaiRealtimeUrl });
  const rt = new OpenAIRealtimeWS({ model, options: { ca: standins.realtimeTls.ca } }, client);
  const events: RealtimeServerEvent[] = [];
  const waiters: Array<() => void> = [];
  rt.on('event', (event) => {
    events.push(event);
    for (const wake of waiters.splice(0)) wake();
  });
  rt.on('error', () => undefined); // error events are read from `events`
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    rt.socket.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters.splice(0)) wake();
    }),
  );
  const next = async (type: RealtimeServerEvent['type'], after = 0) => {
    for (;;) {
      const found = events.slice(after).find((e) => e.type === type);
      if (found) return found;
      if (rt.socket.readyState > 1) throw new Error(`socket closed before ${type}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  // Events can be sent once the socket is open (the SDK does not queue them).
  await new Promise<void>((resolve) => {
    rt.socket.once('open', () => resolve());
    rt.socket.once('close', () => resolve());
  });
  return { rt, events, closed, next };
}

function speak(session: Session, text: string, eventId?: string) {
  session.rt.send({
    type: 'response.create',
    ...(eventId ? { event_id: eventId } : {}),
    response: {
      conversation: 'none',
      output_modalities: ['audio'],
      instructions: 'Read the text aloud exactly as written.',
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text }] }],
    },
  });
}

function configure(session: Session) {
  session.rt.send({
    type: 'session.update',
    session: {
      type: 'realtime',
      output_modalities: ['audio'],
      audio: { output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' } },
    },
  });
}

describe('OpenAI Realtime stand-in, driven by the openai package realtime client', () => {
  it('reads a text aloud in an out-of-band response: the real event order, audio, transcript and usage', async () => {
    const session = await connect();
    await session.next('session.created');
    configure(session);
    await session.next('session.updated');
    const text = 'Hello there, this is a sentence read aloud.';
    speak(session, text);
    const done = await session.next('response.done');

    const order = session.events
      .map((e) => e.type)
      .filter((t) => t !== 'response.output_audio.delta' && t !== 'response.output_audio_transcript.delta');
    expect(order).toEqual([
      'session.created',
      'session.updated',
      'response.created',
      'rate_limits.updated',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_audio.done',
      'response.output_audio_transcript.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.done',
    ]);
    const audio = Buffer.concat(
      session.events.flatMap((e) =>
        e.type === 'response.output_audio.delta' ? [Buffer.from(e.delta, 'base64')] : [],
      ),
    );
    const expected = await synthesizeSpeech(text, { sampleRate: 24_000, voice: 'en-us+f1' });
    expect(audio.equals(expected)).toBe(true);
    const transcript = session.events
      .flatMap((e) => (e.type === 'response.output_audio_transcript.delta' ? [e.delta] : []))
      .join('');
    expect(transcript).toBe(text);
    if (done.type !== 'response.done') throw new Error('unreachable');
    expect(done.response.status).toBe('completed');
    expect(done.response.conversation_id).toBeUndefined();
    const usage = done.response.usage;
    expect(usage?.input_token_details?.text_tokens).toBeGreaterThan(0);
    expect(usage?.output_token_details?.audio_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.input_tokens ?? 0) + (usage?.output_tokens ?? 0));

    const record = standins.recorded.realtime[0]?.responses[0];
    expect(record).toMatchObject({ text, spoken: text, status: 'completed', usage });
    expect(record?.firstAudioMs).toBeGreaterThanOrEqual(150);
    session.rt.close();
  });

  it('refuses an unknown model and a retired preview model as the real API does (error, then close 4000)', async () => {
    for (const model of ['gpt-realtime-9-nano', 'gpt-4o-realtime-preview-2024-12-17']) {
      const session = await connect(model);
      const error = await session.next('error');
      expect(error).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_model' } });
      expect(await session.closed).toEqual({ code: 4000, reason: 'invalid_request_error.invalid_model' });
    }
  });

  it('refuses a connection without an API key (401 at the upgrade)', async () => {
    // The SDK always sends its key, so this one talks to the endpoint with a bare WebSocket.
    const url = `${standins.openaiRealtimeUrl.replace(/^https/, 'wss')}/realtime?model=gpt-realtime-2.1-mini`;
    const socket = new WebSocket(url, { ca: standins.realtimeTls.ca });
    const status = await new Promise<number>((resolve) =>
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('answers what it does not serve with error events naming the parameter', async () => {
    const session = await connect();
    await session.next('session.created');
    session.rt.send({ type: 'session.update', session: { output_modalities: ['audio'] } as never });
    expect(await session.next('error')).toMatchObject({ error: { param: 'session.type' } });
    const after = session.events.length;
    session.rt.send({
      type: 'response.create',
      response: {
        input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi.' }] }],
      },
    });
    expect(await session.next('error', after)).toMatchObject({ error: { param: 'response.conversation' } });
    session.rt.close();
  });

  it('cancels a response in flight (status cancelled, partial usage) and errors on a cancel with nothing to cancel', async () => {
    standins.configure({ profile: { ttsTtfbMs: 0 } });
    const session = await connect();
    configure(session);
    speak(
      session,
      'This is a long sentence that keeps on going so that there is time to cancel it midway through.',
    );
    const created = await session.next('response.created');
    if (created.type !== 'response.created') throw new Error('unreachable');
    await session.next('response.output_audio.delta');
    session.rt.send({ type: 'response.cancel', response_id: created.response.id });
    const done = await session.next('response.done');
    if (done.type !== 'response.done') throw new Error('unreachable');
    expect(done.response.status).toBe('cancelled');
    expect(done.response.status_details).toMatchObject({ type: 'cancelled', reason: 'client_cancelled' });
    const record = standins.recorded.realtime[0]?.responses[0];
    expect(record?.audioSeconds).toBeGreaterThan(0);
    expect(record?.audioSeconds).toBeLessThan(3);
    expect(done.response.usage?.output_token_details?.audio_tokens).toBe(
      Math.ceil((record?.audioSeconds ?? 0) * 20),
    );

    const after = session.events.length;
    session.rt.send({ type: 'response.cancel', response_id: created.response.id });
    expect(await session.next('error', after)).toMatchObject({
      error: { code: 'response_cancel_not_active' },
    });
    session.rt.close();
  });

  it('rewords a sentence when told to: the transcript is what was spoken, not what was sent', async () => {
    standins.configure({ realtimeReword: (text) => text.replace('I am', "I'm") });
    const session = await connect();
    configure(session);
    speak(session, 'I am reading this.');
    const done = await session.next('response.output_audio_transcript.done');
    expect(done).toMatchObject({ transcript: "I'm reading this." });
    expect(standins.recorded.realtime[0]?.responses[0]).toMatchObject({
      text: 'I am reading this.',
      spoken: "I'm reading this.",
    });
    session.rt.close();
  });

  it('injects failures: a failed response, a dropped connection, refused connections', async () => {
    standins.configure({ realtimeFailures: [{ kind: 'failed' }, { kind: 'disconnect' }] });
    const session = await connect();
    configure(session);
    speak(session, 'First.');
    const failed = await session.next('response.done');
    expect(failed).toMatchObject({ response: { status: 'failed', status_details: { type: 'failed' } } });
    speak(session, 'Second.');
    expect((await session.closed).code).toBe(1011);

    standins.configure({ realtimeRefuseConnections: true });
    const client = new OpenAI({ apiKey: 'k', baseURL: standins.openaiRealtimeUrl });
    const refused = new OpenAIRealtimeWS(
      { model: 'gpt-realtime-2.1-mini', options: { ca: standins.realtimeTls.ca } },
      client,
    );
    const message = await new Promise<string>((resolve) => refused.on('error', (e) => resolve(e.message)));
    expect(message).toMatch(/503/);
  });

  it('answers GET /v1/models/{id} at the Realtime base URL, as the agent checks its model at start', async () => {
    const client = new OpenAI({
      apiKey: 'test-openai-key',
      baseURL: standins.openaiRealtimeUrl,
      maxRetries: 0,
      // The stand-in's certificate is trusted for this client only (the agent's process gets NODE_EXTRA_CA_CERTS).
      fetch: ((url: string, init?: object) =>
        undiciFetch(url, {
          ...init,
          dispatcher: new Agent({ connect: { ca: standins.realtimeTls.ca } }),
        })) as never,
    });
    await expect(client.models.retrieve('gpt-realtime-2.1-mini')).resolves.toMatchObject({
      id: 'gpt-realtime-2.1-mini',
      object: 'model',
    });
    const error = (await client.models
      .retrieve('gpt-4o-realtime-preview')
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe('model_not_found');
  });
});
