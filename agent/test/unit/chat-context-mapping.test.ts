import { llm } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  PLACEHOLDER_USER_TEXT,
  toAnthropicPrompt,
  toAnthropicToolChoice,
  toAnthropicTools,
} from '../../src/llm/chat-context-mapping.ts';

function ctxOf(items: llm.ChatItem[]): llm.ChatContext {
  return new llm.ChatContext(items);
}

describe('chat context → Anthropic messages', () => {
  it('separates the system prompt and merges consecutive turns of one role', () => {
    const ctx = llm.ChatContext.empty();
    ctx.addMessage({ role: 'system', content: 'Be brief.' });
    ctx.addMessage({ role: 'user', content: 'Hello' });
    ctx.addMessage({ role: 'user', content: 'are you there?' });
    ctx.addMessage({ role: 'assistant', content: 'Yes.' });
    ctx.addMessage({ role: 'user', content: 'Good.' });
    const { system, messages } = toAnthropicPrompt(ctx, { cache: false });
    expect(system).toEqual([{ type: 'text', text: 'Be brief.' }]);
    expect(messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Hello' },
          { type: 'text', text: 'are you there?' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'Yes.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Good.' }] },
    ]);
  });

  it('starts and ends with a user turn, even after a greeting or when the agent spoke last', () => {
    const ctx = llm.ChatContext.empty();
    ctx.addMessage({ role: 'assistant', content: 'Hi! How can I help?' });
    const { messages } = toAnthropicPrompt(ctx, { cache: false });
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[0]?.content).toEqual([{ type: 'text', text: PLACEHOLDER_USER_TEXT }]);
  });

  it('drops images, empty text and framework bookkeeping items', () => {
    const ctx = ctxOf([
      llm.ChatMessage.create({
        role: 'user',
        content: [llm.createImageContent({ image: 'https://example.com/a.png' }), 'What is this?'],
      }),
      llm.ChatMessage.create({ role: 'assistant', content: '   ' }),
      llm.AgentHandoffItem.create({ newAgentId: 'a' }),
    ]);
    const { system, messages } = toAnthropicPrompt(ctx, { cache: false });
    expect(system).toBeUndefined();
    expect(messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'What is this?' }] }]);
  });

  it('maps tool calls to tool_use and their outputs to tool_result, dropping orphans', () => {
    const ctx = ctxOf([
      llm.ChatMessage.create({ role: 'user', content: 'Weather in Paris?' }),
      llm.FunctionCall.create({ callId: 'toolu_1', name: 'get_weather', args: '{"city":"Paris"}' }),
      llm.FunctionCallOutput.create({ callId: 'toolu_1', output: 'sunny', isError: false }),
      llm.FunctionCall.create({ callId: 'toolu_orphan', name: 'get_weather', args: '{}' }),
      llm.FunctionCallOutput.create({ callId: 'toolu_missing', output: 'x', isError: true }),
    ]);
    const { messages } = toAnthropicPrompt(ctx, { cache: false });
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
    ]);
  });

  it('marks the system prompt and the last history block for prompt caching', () => {
    const ctx = llm.ChatContext.empty();
    ctx.addMessage({ role: 'system', content: 'Be brief.' });
    ctx.addMessage({ role: 'user', content: 'One' });
    ctx.addMessage({ role: 'assistant', content: 'Two' });
    ctx.addMessage({ role: 'user', content: 'Three' });
    const { system, messages } = toAnthropicPrompt(ctx, { cache: true });
    expect(system?.[0]?.cache_control).toEqual({ type: 'ephemeral' });
    const blocks = messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
    const marked = blocks.filter((b) => 'cache_control' in b && b.cache_control);
    expect(marked).toEqual([{ type: 'text', text: 'Three', cache_control: { type: 'ephemeral' } }]);
  });
});

describe('tools', () => {
  it('turns framework function tools into Anthropic tool definitions', () => {
    const toolCtx = new llm.ToolContext({
      get_weather: llm.tool({
        description: 'Current weather for a city',
        parameters: z.object({ city: z.string().describe('City name') }),
        execute: async () => 'sunny',
      }),
    });
    const tools = toAnthropicTools(toolCtx);
    expect(tools).toHaveLength(1);
    expect(tools?.[0]).toMatchObject({
      name: 'get_weather',
      description: 'Current weather for a city',
      input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    });
    expect(toAnthropicTools(undefined)).toBeUndefined();
  });

  it('maps tool choice and parallel tool use', () => {
    expect(toAnthropicToolChoice('required', undefined)).toEqual({ type: 'any' });
    expect(toAnthropicToolChoice('none', undefined)).toEqual({ type: 'none' });
    expect(toAnthropicToolChoice({ type: 'function', function: { name: 'x' } }, false)).toEqual({
      type: 'tool',
      name: 'x',
      disable_parallel_tool_use: true,
    });
    expect(toAnthropicToolChoice(undefined, undefined)).toBeUndefined();
  });
});
