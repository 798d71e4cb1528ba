import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { speechClip } from '../../src/standins/fixtures.ts';
import { type ProviderStandins, startProviderStandins } from '../../src/standins/index.ts';
import { missingProviderKeys, startSimulatedProviders } from '../../src/standins/simulated.ts';

// Wire details the client libraries do not surface (Deepgram's UtteranceEnd/Metadata, cache TTLs), checked on
// the raw protocol, and clean shutdown of every stand-in.

let standins: ProviderStandins;

beforeAll(async () => {
  standins = await startProviderStandins();
});
afterAll(async () => {
  await standins?.stop();
});
beforeEach(() => standins.reset());

type DeepgramMessage = { type: string; [key: string]: unknown };

describe('Deepgram wire protocol', () => {
  it('sends SpeechStarted, a final, UtteranceEnd and on CloseStream the Metadata, honouring the query', async () => {
    const clip = await speechClip('One. Two, three. Testing the wire.', { trailSilenceMs: 1500 });
    standins.configure({ sttScript: ['One. Two, three. Testing the wire.'] });
    const query =
      'encoding=linear16&sample_rate=16000&channels=1&vad_events=true&interim_results=true&punctuate=false&endpointing=500&utterance_end_ms=1000';
    const ws = new WebSocket(`${standins.deepgramUrl}/v1/listen?${query}`, {
      headers: { authorization: 'Token k' },
    });
    const messages: DeepgramMessage[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as DeepgramMessage));
    let upgradeRequestId: string | undefined;
    ws.once('upgrade', (res) => {
      upgradeRequestId = String(res.headers['dg-request-id']);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    expect(upgradeRequestId).toBe(standins.recorded.stt[0]!.requestId);
    const bytes = Buffer.from(clip.samples.buffer, clip.samples.byteOffset, clip.samples.byteLength);
    for (let offset = 0; offset < bytes.length; offset += 3200)
      ws.send(bytes.subarray(offset, offset + 3200));
    ws.send(JSON.stringify({ type: 'KeepAlive' }));
    await waitFor(() => messages.some((m) => m.type === 'UtteranceEnd'));
    ws.send(JSON.stringify({ type: 'CloseStream' }));
    const closeCode = await new Promise<number>((resolve) => ws.once('close', resolve));

    expect(closeCode).toBe(1000);
    // Interim results (UtteranceEnd needs them, as at Deepgram) come between; the rest in this order.
    const interims = messages.filter((m) => m.type === 'Results' && m.is_final === false);
    expect(interims.length).toBeGreaterThan(0);
    const others = messages.filter((m) => !interims.includes(m));
    expect(others.map((m) => m.type)).toEqual([
      'SpeechStarted',
      'Results',
      'UtteranceEnd',
      'Results',
      'Metadata',
    ]);
    const [started, final, utteranceEnd, flushed, metadata] = others as [
      DeepgramMessage,
      DeepgramMessage,
      DeepgramMessage,
      DeepgramMessage,
      DeepgramMessage,
    ];
    expect(started.timestamp).toBeCloseTo(0.3, 1);
    expect(final).toMatchObject({ is_final: true, speech_final: true, channel_index: [0, 1] });
    const alternative = (final.channel as { alternatives: Array<{ transcript: string; words: object[] }> })
      .alternatives[0]!;
    expect(alternative.transcript).toBe('one two three testing the wire'); // punctuate=false
    expect(alternative.words[0]).toEqual({
      word: 'one',
      start: expect.any(Number),
      end: expect.any(Number),
      confidence: 0.98,
    });
    expect((final.metadata as { request_id: string }).request_id).toBe(standins.recorded.stt[0]!.requestId);
    expect(utteranceEnd.last_word_end).toBeCloseTo(0.3 + clip.speechSeconds, 1);
    // CloseStream finalizes: nothing was pending, so an empty from_finalize result.
    expect(flushed).toMatchObject({ is_final: true, from_finalize: true });
    expect(metadata).toMatchObject({
      type: 'Metadata',
      channels: 1,
      request_id: standins.recorded.stt[0]!.requestId,
    });
    expect(metadata.duration).toBeCloseTo(clip.durationSeconds, 2);

    const record = standins.recorded.stt[0]!;
    expect(record.controlMessages).toEqual(['KeepAlive', 'CloseStream']);
    expect(record.audioSeconds).toBeCloseTo(clip.durationSeconds, 2);
    // The pauses after "One." and "three." (~0.35 s) are shorter than endpointing: one utterance.
    expect(record.transcripts).toHaveLength(1);
  });

  it('rejects unsupported audio formats and unknown paths before upgrading', async () => {
    const status = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${standins.deepgramUrl}${path}`, { headers: { authorization: 'Token k' } });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => reject(new Error(`${path} was accepted`)));
        ws.once('error', () => undefined);
      });
    expect(await status('/v1/listen?encoding=opus&sample_rate=48000')).toBe(400);
    expect(await status('/v1/listen?encoding=linear16')).toBe(400);
    expect(await status('/v2/listen?encoding=linear16&sample_rate=16000')).toBe(404);
  });
});

describe('Anthropic prompt cache model', () => {
  it('caches tools and system with separate breakpoints and 1 h TTLs, and reads the longest prefix', async () => {
    const client = new Anthropic({ baseURL: standins.anthropicUrl, apiKey: 'k', maxRetries: 0 });
    const tools: Anthropic.Tool[] = [
      {
        name: 'lookup',
        description: 'd'.repeat(4400),
        input_schema: { type: 'object', properties: {} },
        cache_control: { type: 'ephemeral', ttl: '1h' },
      },
    ];
    const system = [
      { type: 'text' as const, text: 's'.repeat(2000), cache_control: { type: 'ephemeral' as const } },
    ];
    const ask = (systemBlocks: typeof system) =>
      client.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 16,
        tools,
        system: systemBlocks,
        messages: [{ role: 'user', content: 'hi' }],
      });

    const first = await ask(system);
    const toolTokens = first.usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
    expect(toolTokens).toBeGreaterThan(1024);
    expect(first.usage.cache_creation?.ephemeral_5m_input_tokens).toBe(500);
    expect(first.usage.cache_creation_input_tokens).toBe(toolTokens + 500);

    // Same tools, different system: the tools prefix is read, the new system prefix written.
    const second = await ask([{ ...system[0]!, text: 't'.repeat(2000) }]);
    expect(second.usage.cache_read_input_tokens).toBe(toolTokens);
    expect(second.usage.cache_creation_input_tokens).toBe(500);

    // The first request's whole prefix is still cached.
    const third = await ask(system);
    expect(third.usage.cache_read_input_tokens).toBe(toolTokens + 500);
    expect(third.usage.cache_creation_input_tokens).toBe(0);
    expect(third.usage.input_tokens).toBe(1);
  });
});

describe('Anthropic automatic caching and per-model minimums', () => {
  it('moves the top-level breakpoint along a growing conversation and applies Haiku 4.5 minimum of 4096', async () => {
    const client = new Anthropic({ baseURL: standins.anthropicUrl, apiKey: 'k', maxRetries: 0 });
    const model = 'claude-haiku-4-5';
    const long = 'word '.repeat(4000); // 5000 tokens
    const short = 'word '.repeat(2000); // 2500 tokens: below Haiku 4.5's minimum
    const system = [{ type: 'text' as const, text: short, cache_control: { type: 'ephemeral' as const } }];
    const tooShort = await client.messages.create({
      model,
      max_tokens: 16,
      system,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(tooShort.usage.cache_creation_input_tokens).toBe(0);

    const first = await client.messages.create({
      model,
      max_tokens: 16,
      cache_control: { type: 'ephemeral' },
      messages: [{ role: 'user', content: long }],
    });
    expect(first.usage.cache_creation_input_tokens).toBe(5000);
    const second = await client.messages.create({
      model,
      max_tokens: 16,
      cache_control: { type: 'ephemeral' },
      messages: [
        { role: 'user', content: long },
        { role: 'assistant', content: 'Noted.' },
        { role: 'user', content: 'And now?' },
      ],
    });
    expect(second.usage.cache_read_input_tokens).toBe(5000);
    expect(second.usage.cache_creation_input_tokens).toBe(
      Math.ceil('Noted.'.length / 4) + Math.ceil('And now?'.length / 4),
    );
    expect(second.usage.input_tokens).toBe(0);
  });
});

describe('shutdown', () => {
  it('stop() closes open WebSockets and streams promptly and frees the ports', async () => {
    const own = await startProviderStandins({ profile: { llmTtftMs: 30_000, ttsTtfbMs: 30_000 } });
    const ws = new WebSocket(`${own.deepgramUrl}/v1/listen?encoding=linear16&sample_rate=16000`, {
      headers: { authorization: 'Token k' },
    });
    await new Promise((resolve) => ws.once('open', resolve));
    const wsClosed = new Promise((resolve) => ws.once('close', resolve));
    const client = new Anthropic({ baseURL: own.anthropicUrl, apiKey: 'k', maxRetries: 0 });
    const pendingLlm = client.messages
      .create({
        model: 'claude-sonnet-4-6',
        max_tokens: 16,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      })
      .catch((e: unknown) => e);
    const pendingTts = fetch(`${own.openaiUrl}/audio/speech`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input: 'hi', response_format: 'pcm' }),
    }).catch((e: unknown) => e);
    await waitFor(() => own.recorded.llm.length === 1 && own.recorded.tts.length === 1);

    const startedAt = Date.now();
    await own.stop();
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    await wsClosed;
    expect(await pendingLlm).toBeInstanceOf(Error);
    expect(await pendingTts).toBeInstanceOf(Error);
    await expect(fetch(`${own.anthropicUrl}/v1/messages`, { method: 'POST' })).rejects.toThrow();
  });
});

describe('keyless simulated mode', () => {
  it('says loudly that replies are simulated and hands the agent a working provider environment', async () => {
    expect(missingProviderKeys({ ANTHROPIC_API_KEY: 'x', OPENAI_API_KEY: ' ' })).toEqual([
      'DEEPGRAM_API_KEY',
      'OPENAI_API_KEY',
    ]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const simulated = await startSimulatedProviders({ profile: { llmTtftMs: 0 } });
    try {
      expect(warn.mock.calls.flat().join('\n')).toContain('SIMULATED PROVIDERS: replies are not from Claude');
      const { env } = simulated;
      expect(env.PROVIDERS_SIMULATED).toBe('true');
      const client = new Anthropic({
        baseURL: env.ANTHROPIC_BASE_URL,
        apiKey: env.ANTHROPIC_API_KEY,
        maxRetries: 0,
      });
      const reply = await client.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'simulated transcript 1' }],
      });
      expect(reply.content[0]).toMatchObject({
        text: 'This is a simulated Claude reply to: "simulated transcript 1"',
      });
      expect(env.DEEPGRAM_BASE_URL).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      expect(env.OPENAI_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      // The Realtime API stand-in speaks TLS; the agent process trusts its certificate through NODE_EXTRA_CA_CERTS.
      expect(env.OPENAI_REALTIME_BASE_URL).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(env.NODE_EXTRA_CA_CERTS).toBe(simulated.standins.realtimeTls.caFile);
    } finally {
      warn.mockRestore();
      await simulated.stop();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
