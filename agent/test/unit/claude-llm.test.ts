import { APIConnectionError, APIStatusError, initializeLogger, llm, voice } from '@livekit/agents';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

type LLMErrorEvent = Parameters<llm.LLMCallbacks['error']>[0];

import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { ClaudeLLM } from '../../src/llm/claude-llm.ts';

// Text-only: the plugin against the Anthropic stand-in (a real HTTP/SSE server on 127.0.0.1), through the
// framework's own AgentSession (no room, no audio) and directly through llm.chat().

let standins: ProviderStandins;
let claude: ClaudeLLM;

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  standins = await startProviderStandins();
  claude = new ClaudeLLM({
    apiKey: 'test-key',
    baseURL: standins.anthropicUrl,
    model: 'claude-haiku-4-5',
    maxTokens: 200,
  });
});
afterAll(async () => {
  await claude?.aclose();
  await standins?.stop();
});
beforeEach(() => standins.reset());

function userCtx(text: string, system = 'You are terse.'): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  ctx.addMessage({ role: 'system', content: system });
  ctx.addMessage({ role: 'user', content: text });
  return ctx;
}

describe('ClaudeLLM against the Anthropic stand-in', () => {
  it('streams text and reports usage including cache tokens in the final chunk', async () => {
    standins.configure({ llmScript: ['Paris is the capital of France.'], llmCacheMinTokens: 1 });
    const metricsSeen: unknown[] = [];
    claude.on('metrics_collected', (m) => metricsSeen.push(m));

    const first = await claude.chat({ chatCtx: userCtx('Capital of France?') }).collect();
    expect(first.text).toBe('Paris is the capital of France.');
    const rec = standins.recorded.llm[0];
    expect(rec?.stream).toBe(true);
    expect(first.usage?.completionTokens).toBe(rec?.usage?.output_tokens);
    const recIn =
      (rec?.usage?.input_tokens ?? 0) +
      (rec?.usage?.cache_read_input_tokens ?? 0) +
      (rec?.usage?.cache_creation_input_tokens ?? 0);
    expect(first.usage?.promptTokens).toBe(recIn);
    expect(first.usage?.cacheCreationTokens).toBeGreaterThan(0); // first request writes the cache

    // The same prefix again reads it from the cache.
    standins.configure({ llmScript: ['Yes.'] });
    const again = await claude.chat({ chatCtx: userCtx('Capital of France?') }).collect();
    expect(again.usage?.promptCachedTokens).toBeGreaterThan(0);
    expect(again.usage?.promptCachedTokens).toBe(standins.recorded.llm[1]?.usage?.cache_read_input_tokens);

    // The request carried the system prompt separately and cache_control on system and last message.
    const body = rec?.body as {
      system: { cache_control?: unknown }[];
      messages: { role: string; content: { cache_control?: unknown }[] }[];
    };
    expect(body.system.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(body.messages.at(-1)?.content.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    await new Promise((r) => setTimeout(r, 20));
    expect(metricsSeen.length).toBeGreaterThanOrEqual(2);
  });

  it('round-trips a tool call through an AgentSession (text only, no room)', async () => {
    const calls: string[] = [];
    standins.configure({
      llmScript: [{ toolUse: { name: 'get_weather', input: { city: 'Paris' } } }, 'It is sunny in Paris.'],
    });
    const agent = new voice.Agent({
      instructions: 'You answer weather questions.',
      tools: {
        get_weather: llm.tool({
          description: 'Current weather for a city',
          parameters: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            calls.push(city);
            return `sunny in ${city}`;
          },
        }),
      },
    });
    const session = new voice.AgentSession({ llm: claude, vad: null });
    await session.start({ agent });
    try {
      const result = await session.run({ userInput: 'What is the weather in Paris?' }).wait();
      result.expect.nextEvent().isFunctionCall({ name: 'get_weather', args: { city: 'Paris' } });
      result.expect.nextEvent().isFunctionCallOutput();
      result.expect.nextEvent().isMessage({ role: 'assistant' });
      expect(calls).toEqual(['Paris']);

      // The second request sent the tool result back, paired with its tool_use.
      const second = standins.recorded.llm[1]?.body as {
        messages: { role: string; content: { type: string }[] }[];
      };
      const types = second.messages.map((m) => `${m.role}:${m.content.map((c) => c.type).join('+')}`);
      expect(types.slice(-2)).toEqual(['assistant:tool_use', 'user:tool_result']);
      const text = session.history.items
        .filter((i): i is llm.ChatMessage => i.type === 'message' && i.role === 'assistant')
        .map((m) => m.textContent);
      expect(text).toContain('It is sunny in Paris.');
    } finally {
      await session.close();
    }
  });

  it('stops the HTTP stream when the reply is aborted (interruption)', async () => {
    standins.configure({
      llmScript: [
        'One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen.',
      ],
      profile: { llmTokensPerSecond: 10 },
    });
    const stream = claude.chat({ chatCtx: userCtx('Count slowly.') });
    let received = '';
    for await (const chunk of stream) {
      received += chunk.delta?.content ?? '';
      if (received.length > 0) break;
    }
    stream.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(received.length).toBeGreaterThan(0);
    expect(standins.recorded.llm[0]?.completed).toBe(false);
  });

  it('maps 529 overloaded to a retryable APIStatusError and retries it', async () => {
    standins.configure({ llmFailures: [{ kind: 'overloaded' }], llmScript: ['Recovered.'] });
    const errors: LLMErrorEvent[] = [];
    claude.on('error', (e) => errors.push(e));
    const res = await claude
      .chat({ chatCtx: userCtx('Hello'), connOptions: { maxRetry: 2, retryIntervalMs: 10, timeoutMs: 5000 } })
      .collect();
    expect(res.text).toBe('Recovered.');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.recoverable).toBe(true);
    const first = errors[0]?.error;
    expect(first).toBeInstanceOf(APIStatusError);
    expect(first instanceof APIStatusError && first.statusCode).toBe(529);
    expect(first instanceof APIStatusError && first.retryable).toBe(true);
    claude.removeAllListeners('error');
  });

  it('gives up after its retries with a non-retryable error the pipeline can apologise for', async () => {
    standins.configure({ llmFailures: [{ kind: 'overloaded' }, { kind: 'overloaded' }] });
    const errors: LLMErrorEvent[] = [];
    claude.on('error', (e) => errors.push(e));
    const stream = claude.chat({
      chatCtx: userCtx('Hello'),
      connOptions: { maxRetry: 1, retryIntervalMs: 10, timeoutMs: 5000 },
    });
    const out = await stream.collect();
    expect(out.text).toBe('');
    expect(errors.map((e) => e.recoverable)).toEqual([true, false]);
    expect(errors.at(-1)?.error).toBeInstanceOf(APIStatusError);
    claude.removeAllListeners('error');
  });

  it('maps an unreachable endpoint to APIConnectionError', async () => {
    const offline = new ClaudeLLM({
      apiKey: 'k',
      baseURL: 'http://127.0.0.1:9',
      model: 'claude-haiku-4-5',
      maxTokens: 10,
    });
    const errors: LLMErrorEvent[] = [];
    offline.on('error', (e) => errors.push(e));
    await offline
      .chat({ chatCtx: userCtx('Hi'), connOptions: { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 2000 } })
      .collect()
      .catch(() => {});
    expect(errors[0]?.error).toBeInstanceOf(APIConnectionError);
  });
});
