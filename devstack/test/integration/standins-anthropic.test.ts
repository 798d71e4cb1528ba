import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../src/standins/index.ts';

// Contract: the real @anthropic-ai/sdk, pointed at the stand-in through `baseURL`, streams text and tool
// calls, reports usage including prompt-cache tokens, and surfaces the API's errors as its own error classes.

const MODEL = 'claude-sonnet-4-6';
let standins: ProviderStandins;
let client: Anthropic;

beforeAll(async () => {
  standins = await startProviderStandins();
  client = new Anthropic({ baseURL: standins.anthropicUrl, apiKey: 'test-anthropic-key', maxRetries: 0 });
});
afterAll(async () => {
  await standins?.stop();
});
beforeEach(() => standins.reset());

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('Anthropic Messages stand-in, driven by @anthropic-ai/sdk', () => {
  it('streams a scripted reply as text deltas with usage', async () => {
    const reply = 'Sure. Paris is sunny today, with a light breeze from the west.';
    standins.configure({ llmScript: [reply] });
    const question = 'What is the weather in Paris?';
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: question }],
    });
    const deltas: string[] = [];
    stream.on('text', (text) => deltas.push(text));
    const message = await stream.finalMessage();

    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.join('')).toBe(reply);
    expect(message.content).toEqual(
      [{ type: 'text', text: reply, citations: null }].map(({ citations: _, ...b }) => b),
    );
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBe(Math.ceil(question.length / 4));
    expect(message.usage.output_tokens).toBe(Math.ceil(reply.length / 4));
    expect(message.usage.cache_read_input_tokens).toBe(0);
    expect(standins.recorded.llm[0]).toMatchObject({
      stream: true,
      status: 200,
      completed: true,
      replyText: reply,
    });
  });

  it('says it is simulated when nothing is scripted, also without streaming', async () => {
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Tell me a joke' }],
    });
    expect(message.content[0]).toMatchObject({
      type: 'text',
      text: 'This is a simulated Claude reply to: "Tell me a joke"',
    });
  });

  it('caches a long system prompt: the first request writes it, the next reads it', async () => {
    const system: Anthropic.TextBlockParam[] = [
      {
        type: 'text',
        text: 'You are a helpful voice assistant. '.repeat(160),
        cache_control: { type: 'ephemeral' },
      },
    ];
    const systemTokens = Math.ceil(system[0]!.text.length / 4);
    expect(systemTokens).toBeGreaterThan(1024);
    const ask = async (content: string) =>
      (
        await client.messages
          .stream({ model: MODEL, max_tokens: 64, system, messages: [{ role: 'user', content }] })
          .finalMessage()
      ).usage;

    const first = await ask('Hello');
    expect(first.cache_creation_input_tokens).toBe(systemTokens);
    expect(first.cache_read_input_tokens).toBe(0);
    expect(first.input_tokens).toBe(Math.ceil('Hello'.length / 4));

    const second = await ask('And again');
    expect(second.cache_read_input_tokens).toBe(systemTokens);
    expect(second.cache_creation_input_tokens).toBe(0);
    expect(second.input_tokens).toBe(Math.ceil('And again'.length / 4));

    // A prompt below the minimum cacheable length is not cached at all.
    const shortSystem = [
      { type: 'text' as const, text: 'Be brief.', cache_control: { type: 'ephemeral' as const } },
    ];
    const small = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      system: shortSystem,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(small.usage.cache_creation_input_tokens).toBe(0);
    expect(small.usage.cache_read_input_tokens).toBe(0);
  });

  it('streams a tool call and accepts its result in the next turn', async () => {
    standins.configure({
      llmScript: [
        { text: 'Let me check.', toolUse: { name: 'get_weather', input: { city: 'Paris' } } },
        'It is sunny in Paris.',
      ],
    });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.messages
      .stream({ model: MODEL, max_tokens: 256, tools: [weatherTool], messages })
      .finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const toolUse = first.content.find((b) => b.type === 'tool_use');
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
    expect(toolUse?.id).toMatch(/^toolu_/);

    messages.push({ role: 'assistant', content: first.content });
    messages.push({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: toolUse!.id, content: '22°C, sunny' }],
    });
    const second = await client.messages
      .stream({ model: MODEL, max_tokens: 256, tools: [weatherTool], messages })
      .finalMessage();
    expect(second.content).toEqual([{ type: 'text', text: 'It is sunny in Paris.' }]);
    expect(standins.recorded.llm.map((r) => r.status)).toEqual([200, 200]);

    // A tool_result that answers no tool_use of the previous turn is rejected as by the real API.
    messages[2] = {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_unknown', content: 'x' }],
    };
    const wrong = client.messages.create({ model: MODEL, max_tokens: 64, tools: [weatherTool], messages });
    await expect(wrong).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(wrong).rejects.toThrow(
      /unexpected `tool_use_id` found in `tool_result` blocks: toolu_unknown/,
    );
  });

  it('rejects invalid requests with 400 invalid_request_error, and merges consecutive turns like the API', async () => {
    const bad = async (params: unknown) => {
      const error = await client.messages
        .create(params as Anthropic.MessageCreateParamsNonStreaming)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.BadRequestError);
      expect((error as APIError).status).toBe(400);
      expect((error as APIError).error).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error' },
      });
      return ((error as APIError).error as { error: { message: string } }).error.message;
    };
    expect(await bad({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })).toMatch(
      /max_tokens: Field required/,
    );
    expect(await bad({ model: MODEL, max_tokens: 10, messages: [] })).toMatch(/at least one message/);
    expect(await bad({ model: MODEL, max_tokens: 10, messages: [{ role: 'system', content: 'x' }] })).toMatch(
      /role/,
    );
    expect(
      await bad({ model: MODEL, max_tokens: 10, messages: [{ role: 'assistant', content: 'hi' }] }),
    ).toMatch(/first message must use the "user" role/);
    // Consecutive user turns are combined into one by the API, not rejected.
    const merged = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'first' },
        { role: 'user', content: 'second' },
      ],
    });
    expect(merged.stop_reason).toBe('end_turn');
  });

  it('injects 529 overloaded, 429 with retry-after, 500, a mid-stream error and a cut connection', async () => {
    const ask = () =>
      client.messages
        .stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
        .finalMessage();
    standins.configure({
      llmFailures: [
        { kind: 'overloaded' },
        { kind: 'rate_limit', retryAfterSeconds: 7 },
        { kind: 'api_error' },
        { kind: 'overloaded', afterEvents: 3 },
        { kind: 'cut', afterEvents: 3 },
      ],
    });
    const overloaded = (await ask().catch((e: unknown) => e)) as APIError;
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect(overloaded.status).toBe(529);
    expect(overloaded.error).toMatchObject({ error: { type: 'overloaded_error' } });

    const limited = (await ask().catch((e: unknown) => e)) as APIError;
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.headers?.get('retry-after')).toBe('7');

    const internal = (await ask().catch((e: unknown) => e)) as APIError;
    expect(internal).toBeInstanceOf(Anthropic.InternalServerError);

    const midStream = (await ask().catch((e: unknown) => e)) as Error;
    expect(midStream).toBeInstanceOf(Anthropic.APIError);
    expect(midStream.message).toMatch(/overloaded/i);

    const cut = await ask().catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(Error);
    expect(standins.recorded.llm.map((r) => r.error)).toEqual([
      'overloaded_error',
      'rate_limit_error',
      'api_error',
      'overloaded_error',
      'cut',
    ]);
    // Failures are consumed: the next request succeeds.
    await expect(ask()).resolves.toMatchObject({ stop_reason: 'end_turn' });
  });

  it('answers 404 not_found_error for a retired or unknown model, on every request to it, like the API', async () => {
    const ask = (model: string) =>
      client.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    for (const model of ['claude-sonnet-4-20250514', 'claude-opus-4-1', 'claude-haiku-9-9']) {
      const error = (await ask(model).catch((e: unknown) => e)) as APIError;
      expect(error).toBeInstanceOf(Anthropic.NotFoundError);
      expect(error.status).toBe(404);
      expect(error.error).toMatchObject({
        type: 'error',
        error: { type: 'not_found_error', message: `model: ${model}` },
      });
    }
    // claude-sonnet-4-5 retires on 2026-11-30: served the day before on the stand-ins' clock, refused that day.
    standins.configure({ calendarDate: '2026-11-29' });
    await expect(ask('claude-sonnet-4-5')).resolves.toMatchObject({ stop_reason: 'end_turn' });
    standins.configure({ calendarDate: '2026-11-30' });
    await expect(ask('claude-sonnet-4-5')).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    expect(standins.recorded.llm.map((r) => r.status)).toEqual([404, 404, 404, 200, 404]);
  });

  it('serves the Models API: models.retrieve for a current model, 404 for a retired one, and the list', async () => {
    await expect(client.models.retrieve('claude-haiku-4-5')).resolves.toMatchObject({
      type: 'model',
      id: 'claude-haiku-4-5',
      display_name: 'Claude Haiku 4.5',
    });
    const retired = (await client.models.retrieve('claude-sonnet-4').catch((e: unknown) => e)) as APIError;
    expect(retired).toBeInstanceOf(Anthropic.NotFoundError);
    const page = await client.models.list({ limit: 100 });
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('claude-haiku-4-5');
    expect(ids).not.toContain('claude-sonnet-4');
  });

  it('requires an API key', async () => {
    const response = await fetch(`${standins.anthropicUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    // x-api-key works as well as the SDK's Bearer header.
    const withKey = await fetch(`${standins.anthropicUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(withKey.status).toBe(200);
  });

  it('honours time to first token and token rate (loose bounds)', async () => {
    const reply = 'x'.repeat(200); // 50 tokens
    standins.configure({ llmScript: [reply], profile: { llmTtftMs: 300, llmTokensPerSecond: 100 } });
    const startedAt = Date.now();
    let firstTokenAt = 0;
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'go' }],
    });
    stream.on('text', () => {
      firstTokenAt ||= Date.now();
    });
    await stream.finalMessage();
    const total = Date.now() - startedAt;
    expect(firstTokenAt - startedAt).toBeGreaterThanOrEqual(280);
    expect(firstTokenAt - startedAt).toBeLessThan(1_500);
    // 49 more tokens at 100/s after the first: ~0.5 s.
    expect(total - (firstTokenAt - startedAt)).toBeGreaterThanOrEqual(400);
    expect(total).toBeLessThan(3_000);
  });
});
