import type Anthropic from '@anthropic-ai/sdk';
import { llm } from '@livekit/agents';

type MessageParam = Anthropic.MessageParam;
type ContentBlockParam = Anthropic.ContentBlockParam;
type TextBlockParam = Anthropic.TextBlockParam;

export interface AnthropicPrompt {
  system: TextBlockParam[] | undefined;
  messages: MessageParam[];
}

/**
 * A user message that keeps the Anthropic conversation well-formed where the framework's chat context is not:
 * Messages must start with `user` and end with `user` (otherwise the last assistant turn is taken as a prefill
 * and Claude continues it instead of replying).
 */
export const PLACEHOLDER_USER_TEXT = '(continue)';

const EPHEMERAL = { type: 'ephemeral' } as const;

/** Text of one framework content part; images and audio are not sent (a voice call has no images). */
function textOf(part: llm.ChatContent): string | undefined {
  if (typeof part === 'string') return part;
  if (part instanceof llm.Instructions) return part.value;
  if (typeof part === 'object' && part !== null && 'type' in part && part.type === 'audio_content') {
    return part.transcript;
  }
  return undefined;
}

function parseToolInput(args: string): Record<string, unknown> {
  if (!args.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/**
 * Maps the framework's chat context to an Anthropic Messages request:
 * - system/developer messages become the `system` blocks (Anthropic has no system role in `messages`);
 * - consecutive items of one role merge into one message, so roles alternate as the API requires;
 * - function calls become `tool_use` blocks on the assistant side, their outputs `tool_result` blocks on the user
 *   side (tool results must come first in their user message);
 * - empty texts, images, handoff and config items are dropped;
 * - with `cache`, the system prompt and the last history block carry `cache_control`, so each turn re-reads the
 *   whole conversation prefix from Anthropic's prompt cache instead of paying full input price for it again.
 */
export function toAnthropicPrompt(chatCtx: llm.ChatContext, options: { cache: boolean }): AnthropicPrompt {
  const systemTexts: string[] = [];
  const messages: MessageParam[] = [];
  const toolUseIds = new Set<string>();
  const resultIds = new Set<string>();
  for (const item of chatCtx.items) {
    if (item.type === 'function_call') toolUseIds.add(item.callId);
    if (item.type === 'function_call_output') resultIds.add(item.callId);
  }

  const push = (role: 'user' | 'assistant', block: ContentBlockParam) => {
    const last = messages.at(-1);
    if (last && last.role === role && Array.isArray(last.content)) {
      if (block.type === 'tool_result') {
        // tool_result blocks must precede any text in a user message.
        const firstNonResult = last.content.findIndex((b) => b.type !== 'tool_result');
        if (firstNonResult === -1) last.content.push(block);
        else last.content.splice(firstNonResult, 0, block);
      } else {
        last.content.push(block);
      }
      return;
    }
    messages.push({ role, content: [block] });
  };

  for (const item of chatCtx.items) {
    switch (item.type) {
      case 'message': {
        const text = item.content
          .map(textOf)
          .filter((t): t is string => typeof t === 'string')
          .join('\n')
          .trim();
        if (!text) break;
        if (item.role === 'system' || item.role === 'developer') systemTexts.push(text);
        else push(item.role, { type: 'text', text });
        break;
      }
      case 'function_call':
        // A call without its output (e.g. cancelled by an interruption) would make the API reject the request.
        if (!resultIds.has(item.callId)) break;
        push('assistant', {
          type: 'tool_use',
          id: item.callId,
          name: item.name,
          input: parseToolInput(item.args),
        });
        break;
      case 'function_call_output':
        if (!toolUseIds.has(item.callId)) break;
        push('user', {
          type: 'tool_result',
          tool_use_id: item.callId,
          content: item.output,
          ...(item.isError ? { is_error: true } : {}),
        });
        break;
      default:
        break; // agent_handoff, agent_config_update: framework bookkeeping, nothing for the model
    }
  }

  if (messages[0]?.role !== 'user')
    messages.unshift({ role: 'user', content: [{ type: 'text', text: PLACEHOLDER_USER_TEXT }] });
  if (messages.at(-1)?.role !== 'user')
    messages.push({ role: 'user', content: [{ type: 'text', text: PLACEHOLDER_USER_TEXT }] });

  const system: TextBlockParam[] | undefined = systemTexts.length
    ? [{ type: 'text', text: systemTexts.join('\n\n') }]
    : undefined;

  if (options.cache) {
    const lastSystem = system?.at(-1);
    if (lastSystem) lastSystem.cache_control = EPHEMERAL;
    const lastMessage = messages.at(-1);
    const lastBlock = Array.isArray(lastMessage?.content) ? lastMessage.content.at(-1) : undefined;
    if (
      lastBlock &&
      (lastBlock.type === 'text' || lastBlock.type === 'tool_result' || lastBlock.type === 'tool_use')
    ) {
      lastBlock.cache_control = EPHEMERAL;
    }
  }
  return { system, messages };
}

/** Framework function tools → Anthropic tool definitions (JSON schema input). */
export function toAnthropicTools(toolCtx: llm.ToolContext | undefined): Anthropic.Tool[] | undefined {
  if (!toolCtx) return undefined;
  const entries = llm.sortedToolEntries(toolCtx);
  if (entries.length === 0) return undefined;
  return entries.map(([name, fn]) => {
    const { $schema: _dropped, ...schema } = llm.toJsonSchema(fn.parameters, true, false) as Record<
      string,
      unknown
    >;
    return {
      name,
      description: fn.description,
      input_schema: { ...schema, type: 'object' } as Anthropic.Tool.InputSchema,
    };
  });
}

export function toAnthropicToolChoice(
  choice: llm.ToolChoice | undefined,
  parallelToolCalls: boolean | undefined,
): Anthropic.ToolChoice | undefined {
  const disable = parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallelToolCalls === false ? { type: 'auto', ...disable } : undefined;
  if (choice === 'auto') return { type: 'auto', ...disable };
  if (choice === 'required') return { type: 'any', ...disable };
  if (choice === 'none') return { type: 'none' };
  return { type: 'tool', name: choice.function.name, ...disable };
}
