/**
 * Checks a Messages API request the way the real API does and answers with its error wording where we know it
 * (400 invalid_request_error; 404 not_found_error for an unknown model). Consecutive turns with the same role
 * are merged, as the API documents ("Consecutive user or assistant turns in your request will be combined into
 * a single turn", @anthropic-ai/sdk 1.14 MessageCreateParams.messages), so only the merged turns are checked
 * for tool pairing.
 */

export type ContentBlock = { type: string; [key: string]: unknown };
export interface MessageParam {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}
export interface ToolParam {
  name: string;
  input_schema?: unknown;
  type?: string;
  [key: string]: unknown;
}
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | ContentBlock[];
  tools?: ToolParam[];
  stream?: boolean;
  [key: string]: unknown;
}

export type RequestProblem = {
  status: 400 | 404;
  type: 'invalid_request_error' | 'not_found_error';
  message: string;
};

const invalid = (message: string): RequestProblem => ({
  status: 400,
  type: 'invalid_request_error',
  message,
});

export function validateMessagesRequest(
  body: unknown,
  { requireMaxTokens = true }: { requireMaxTokens?: boolean } = {},
): { ok: true; request: MessagesRequest } | { ok: false; problem: RequestProblem } {
  const fail = (problem: RequestProblem) => ({ ok: false as const, problem });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail(invalid('Input should be a valid dictionary or object to extract fields from'));
  }
  const b = body as Record<string, unknown>;
  if (b.model === undefined) return fail(invalid('model: Field required'));
  if (typeof b.model !== 'string' || b.model.length === 0)
    return fail(invalid('model: Input should be a valid string'));
  if (requireMaxTokens) {
    if (b.max_tokens === undefined) return fail(invalid('max_tokens: Field required'));
    if (typeof b.max_tokens !== 'number' || !Number.isInteger(b.max_tokens)) {
      return fail(invalid('max_tokens: Input should be a valid integer'));
    }
    if (b.max_tokens < 0) return fail(invalid('max_tokens: Input should be greater than or equal to 0'));
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean') {
    return fail(invalid('stream: Input should be a valid boolean'));
  }
  if (b.messages === undefined) return fail(invalid('messages: Field required'));
  if (!Array.isArray(b.messages)) return fail(invalid('messages: Input should be a valid list'));
  if (b.messages.length === 0) return fail(invalid('messages: at least one message is required'));
  for (const [i, m] of (b.messages as unknown[]).entries()) {
    if (typeof m !== 'object' || m === null)
      return fail(invalid(`messages.${i}: Input should be a valid dictionary`));
    const msg = m as Record<string, unknown>;
    if (msg.role === undefined) return fail(invalid(`messages.${i}.role: Field required`));
    if (msg.role !== 'user' && msg.role !== 'assistant') {
      return fail(
        invalid(
          `messages.${i}.role: Input should be 'user' or 'assistant'` +
            (msg.role === 'system'
              ? ' (use the top-level `system` parameter for a system prompt; there is no "system" role)'
              : ''),
        ),
      );
    }
    if (msg.content === undefined) return fail(invalid(`messages.${i}.content: Field required`));
    const isLast = i === b.messages.length - 1;
    if (typeof msg.content === 'string') {
      if (msg.content.length === 0 && !(isLast && msg.role === 'assistant')) {
        return fail(
          invalid(
            `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
          ),
        );
      }
    } else if (Array.isArray(msg.content)) {
      if (msg.content.length === 0 && !(isLast && msg.role === 'assistant')) {
        return fail(
          invalid(
            `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
          ),
        );
      }
      for (const [j, block] of (msg.content as unknown[]).entries()) {
        const problem = checkBlock(block, `messages.${i}.content.${j}`, msg.role);
        if (problem) return fail(problem);
      }
    } else {
      return fail(invalid(`messages.${i}.content: Input should be a valid string or list`));
    }
  }
  if (b.system !== undefined && typeof b.system !== 'string') {
    if (!Array.isArray(b.system)) return fail(invalid('system: Input should be a valid string or list'));
    for (const [j, block] of (b.system as unknown[]).entries()) {
      const blk = block as Record<string, unknown> | null;
      if (blk?.type !== 'text' || typeof blk.text !== 'string') {
        return fail(
          invalid(`system.${j}: Input tag '${String(blk?.type)}' found using 'type' does not match 'text'`),
        );
      }
    }
  }
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) return fail(invalid('tools: Input should be a valid list'));
    const names = new Set<string>();
    for (const [j, t] of (b.tools as unknown[]).entries()) {
      const tool = t as Record<string, unknown> | null;
      if (typeof tool?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(tool.name)) {
        return fail(invalid(`tools.${j}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`));
      }
      if (tool.type === undefined || tool.type === 'custom') {
        if (typeof tool.input_schema !== 'object' || tool.input_schema === null) {
          return fail(invalid(`tools.${j}.custom.input_schema: Field required`));
        }
      }
      if (names.has(tool.name)) return fail(invalid('tools: Tool names must be unique.'));
      names.add(tool.name);
    }
  }
  if (!b.model.startsWith('claude-')) {
    return fail({ status: 404, type: 'not_found_error', message: `model: ${b.model}` });
  }
  const request = body as MessagesRequest;
  const merged = mergeConsecutiveTurns(request.messages);
  if (merged[0]?.role !== 'user') return fail(invalid('messages: first message must use the "user" role'));
  const pairing = checkToolPairing(merged);
  if (pairing) return fail(invalid(pairing));
  return { ok: true, request };
}

function checkBlock(block: unknown, path: string, role: string): RequestProblem | undefined {
  if (typeof block !== 'object' || block === null)
    return invalid(`${path}: Input should be a valid dictionary`);
  const b = block as Record<string, unknown>;
  switch (b.type) {
    case 'text':
      if (typeof b.text !== 'string') return invalid(`${path}.text.text: Field required`);
      if (b.text.length === 0) return invalid(`${path}: text content blocks must be non-empty`);
      return undefined;
    case 'tool_use':
      if (role !== 'assistant') return invalid(`${path}: tool_use blocks can only be in assistant messages`);
      if (typeof b.id !== 'string' || typeof b.name !== 'string')
        return invalid(`${path}.tool_use.id: Field required`);
      return undefined;
    case 'tool_result':
      if (role !== 'user') return invalid(`${path}: tool_result blocks can only be in user messages`);
      if (typeof b.tool_use_id !== 'string')
        return invalid(`${path}.tool_result.tool_use_id: Field required`);
      return undefined;
    case 'image':
    case 'document':
    case 'thinking':
    case 'redacted_thinking':
      return undefined;
    default:
      return invalid(
        `${path}: Input tag '${String(b.type)}' found using 'type' does not match any of the expected tags`,
      );
  }
}

export function contentBlocks(content: string | ContentBlock[]): ContentBlock[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

export function mergeConsecutiveTurns(
  messages: MessageParam[],
): Array<{ role: string; blocks: ContentBlock[]; from: number }> {
  const merged: Array<{ role: string; blocks: ContentBlock[]; from: number }> = [];
  for (const [i, m] of messages.entries()) {
    const last = merged.at(-1);
    if (last && last.role === m.role) last.blocks.push(...contentBlocks(m.content));
    else merged.push({ role: m.role, blocks: [...contentBlocks(m.content)], from: i });
  }
  return merged;
}

/** Every tool_result answers a tool_use of the previous turn, and every tool_use gets its result next turn. */
function checkToolPairing(
  turns: Array<{ role: string; blocks: ContentBlock[]; from: number }>,
): string | undefined {
  for (const [t, turn] of turns.entries()) {
    if (turn.role !== 'user') continue;
    const previous = turns[t - 1];
    const previousToolUses = new Set(
      previous?.role === 'assistant'
        ? previous.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id as string)
        : [],
    );
    for (const [j, block] of turn.blocks.entries()) {
      if (block.type === 'tool_result' && !previousToolUses.has(block.tool_use_id as string)) {
        return (
          `messages.${turn.from}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. ` +
          'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.'
        );
      }
    }
  }
  for (const [t, turn] of turns.entries()) {
    const next = turns[t + 1];
    if (turn.role !== 'assistant' || !next) continue;
    const uses = turn.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id as string);
    const answered = new Set(
      next.blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id as string),
    );
    const missing = uses.filter((id) => !answered.has(id));
    if (missing.length > 0) {
      return (
        `messages.${turn.from}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. ` +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.'
      );
    }
  }
  return undefined;
}
