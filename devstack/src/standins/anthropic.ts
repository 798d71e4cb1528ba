import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type MessagesRequest, validateMessagesRequest } from './anthropic-request.ts';
import {
  estimateTokens,
  MAX_CACHE_BREAKPOINTS,
  PromptCache,
  promptBlocks,
  type Usage,
} from './anthropic-usage.ts';
import { BodyTooLargeError, listenOnFreePort, providerId, readBody, sendJson, sleep } from './http.ts';
import { displayName, servedModels, servedOnDate } from './model-calendar.ts';
import type { LatencyProfile } from './profile.ts';

/**
 * Anthropic Messages stand-in: `POST /v1/messages` (JSON or `stream: true` SSE with the real event sequence),
 * `POST /v1/messages/count_tokens`, and the Models API (`GET /v1/models`, `GET /v1/models/{id}`). Replies come from
 * a script or say they are simulated. Like the real API it serves only current models: one the providers' calendar
 * does not know, or one past its shutdown date on the stand-ins' clock, answers 404 not_found_error.
 */

export interface LlmToolUse {
  name: string;
  input: Record<string, unknown>;
  /** Defaults to a fresh `toolu_…` id. */
  id?: string;
}
/** A scripted reply: plain text, or text and/or one tool call. */
export type LlmReply = string | { text?: string; toolUse?: LlmToolUse };
export type LlmScript = LlmReply[] | ((request: MessagesRequest, index: number) => LlmReply | undefined);

/**
 * Failures for the next requests, consumed one per request in order. `overloaded` with `afterEvents` sends an
 * SSE `error` event mid-stream (as the API does when overloaded during generation); `cut` closes the socket
 * after that many SSE events without a word.
 */
export type LlmFailure =
  | { kind: 'rate_limit'; retryAfterSeconds?: number }
  | { kind: 'overloaded'; afterEvents?: number }
  | { kind: 'api_error' }
  | { kind: 'cut'; afterEvents: number };

export interface LlmRequestRecord {
  receivedAt: Date;
  /** The request body as received (parsed JSON, or the raw text if it did not parse). */
  body: unknown;
  stream: boolean;
  status: number;
  /** Error type answered, if any (invalid_request_error, overloaded_error, ...; `cut` for a cut stream). */
  error?: string;
  usage?: Usage;
  replyText?: string;
  toolUse?: { id: string; name: string; input: Record<string, unknown> };
  stopReason?: string;
  /** Milliseconds from receipt to the first content delta (stream) or the response (non-stream). */
  firstTokenMs?: number;
  /** False when the client went away or the stream was cut before message_stop. */
  completed: boolean;
}

export interface AnthropicSettings {
  profile: LatencyProfile;
  /** The stand-ins' "today" (YYYY-MM-DD): which models are retired. */
  today: string;
}

export interface AnthropicStandin {
  url: string;
  recorded: LlmRequestRecord[];
  cache: PromptCache;
  setScript(script: LlmScript): void;
  queueFailures(failures: LlmFailure[]): void;
  reset(): void;
  stop(): Promise<void>;
}

const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

export async function startAnthropicStandin(
  host: string,
  settings: () => AnthropicSettings,
): Promise<AnthropicStandin> {
  const recorded: LlmRequestRecord[] = [];
  const cache = new PromptCache();
  let script: LlmScript = [];
  let scriptCursor = 0;
  let repliesServed = 0;
  let failures: LlmFailure[] = [];

  const nextReply = (request: MessagesRequest): LlmReply => {
    const index = repliesServed++;
    if (typeof script === 'function') return script(request, index) ?? simulatedReply(request);
    if (scriptCursor < script.length) return script[scriptCursor++]!;
    return simulatedReply(request);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 'api_error', 'Internal server error');
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = new Date();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const countTokens = path === '/v1/messages/count_tokens';
    const models = req.method === 'GET' && /^\/v1\/models(\/[^/]+)?$/.test(path);
    if (!models && (req.method !== 'POST' || (path !== '/v1/messages' && !countTokens))) {
      return sendError(res, 'not_found_error', 'Not Found');
    }
    const apiKey = req.headers['x-api-key'] ?? /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1];
    if (!apiKey) return sendError(res, 'authentication_error', 'x-api-key header is required');
    if (!req.headers['anthropic-version']) {
      return sendError(res, 'invalid_request_error', 'anthropic-version: header is required');
    }
    if (models) return serveModels(res, path, settings().today);
    let raw: Buffer;
    try {
      raw = await readBody(req, 32 * 1024 * 1024);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return sendError(res, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
      throw error;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = raw.toString('utf8');
      const record = newRecord(receivedAt, body, false);
      record.status = 400;
      record.error = 'invalid_request_error';
      return sendError(
        res,
        'invalid_request_error',
        'There was an issue with the formatting or content of your request: the body is not valid JSON.',
      );
    }
    const stream = (body as { stream?: unknown })?.stream === true;
    const record = countTokens ? undefined : newRecord(receivedAt, body, stream);
    const fail = (type: string, message: string, headers: Record<string, string> = {}) => {
      if (record) {
        record.status = ERROR_STATUS[type] ?? 500;
        record.error = type;
      }
      sendError(res, type, message, headers);
    };

    const checked = validateMessagesRequest(body, { requireMaxTokens: !countTokens });
    if (!checked.ok) return fail(checked.problem.type, checked.problem.message);
    const request = checked.request;
    // A retired or unknown model: the API's 404, the same for every request to it (not retryable).
    if (!servedOnDate(request.model, 'llm', settings().today)) {
      return fail('not_found_error', `model: ${request.model}`);
    }
    const breakpoints = promptBlocks(request).filter((b) => b.cacheTtlSeconds !== undefined).length;
    if (breakpoints > MAX_CACHE_BREAKPOINTS) {
      return fail(
        'invalid_request_error',
        `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints}.`,
      );
    }
    if (countTokens) {
      return sendJson(res, 200, { input_tokens: promptBlocks(request).reduce((n, b) => n + b.tokens, 0) });
    }
    const rec = record!;

    const failure = failures.shift();
    if (failure?.kind === 'rate_limit') {
      const retryAfter = String(failure.retryAfterSeconds ?? 1);
      return fail(
        'rate_limit_error',
        'Number of request tokens has exceeded your per-minute rate limit (simulated).',
        {
          'retry-after': retryAfter,
        },
      );
    }
    if (failure?.kind === 'overloaded' && failure.afterEvents === undefined)
      return fail('overloaded_error', 'Overloaded');
    if (failure?.kind === 'api_error') return fail('api_error', 'Internal server error');

    const usageIn = cache.account(request);
    const reply = shapeReply(nextReply(request), request.max_tokens);
    const usage: Usage = { ...usageIn, output_tokens: reply.outputTokens, service_tier: 'standard' };
    rec.usage = usage;
    rec.replyText = reply.text;
    rec.toolUse = reply.toolUse;
    rec.stopReason = reply.stopReason;
    rec.status = 200;

    const profile = settings().profile;
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const messageId = providerId('msg_01');
    const requestId = providerId('req_01');
    const content = [
      ...(reply.text !== undefined ? [{ type: 'text', text: reply.text }] : []),
      ...(reply.toolUse ? [{ type: 'tool_use', ...reply.toolUse }] : []),
    ];

    if (!stream) {
      const generationMs =
        profile.llmTokensPerSecond > 0 ? (reply.outputTokens / profile.llmTokensPerSecond) * 1000 : 0;
      await sleep(receivedAt.getTime() + profile.llmTtftMs + generationMs - Date.now(), abort.signal);
      if (abort.signal.aborted) return;
      rec.firstTokenMs = Date.now() - receivedAt.getTime();
      rec.completed = true;
      return sendJson(
        res,
        200,
        {
          id: messageId,
          type: 'message',
          role: 'assistant',
          model: request.model,
          content,
          stop_reason: reply.stopReason,
          stop_sequence: null,
          usage,
        },
        { 'request-id': requestId },
      );
    }

    // Counted from the request's arrival (as the TTS stand-in does), so reading and checking the request does not
    // add to the profile's time to first token.
    await sleep(receivedAt.getTime() + profile.llmTtftMs - Date.now(), abort.signal);
    if (abort.signal.aborted) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': requestId,
    });
    let events = 0;
    let cut = false;
    /** Writes one SSE event; false once the stream is over (client gone, or a cut/error was injected). */
    const emit = (data: { type: string; [key: string]: unknown }): boolean => {
      if (cut || abort.signal.aborted) return false;
      if (failure?.kind === 'cut' && events >= failure.afterEvents) {
        cut = true;
        rec.error = 'cut';
        res.socket?.destroy();
        return false;
      }
      if (
        failure?.kind === 'overloaded' &&
        failure.afterEvents !== undefined &&
        events >= failure.afterEvents
      ) {
        cut = true;
        rec.error = 'overloaded_error';
        res.end(sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
        return false;
      }
      events++;
      res.write(sse(data));
      return true;
    };

    const startedAt = Date.now();
    let tokensSent = 0;
    /** Paces output: token k is due at startedAt + k / tokensPerSecond. */
    const paceToken = async () => {
      tokensSent++;
      if (profile.llmTokensPerSecond <= 0) return;
      const due = startedAt + (tokensSent * 1000) / profile.llmTokensPerSecond;
      await sleep(due - Date.now(), abort.signal);
    };

    const ok =
      emit({
        type: 'message_start',
        message: {
          id: messageId,
          type: 'message',
          role: 'assistant',
          model: request.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      }) && true;
    if (!ok) return;
    let index = 0;
    if (reply.text !== undefined) {
      if (!emit({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } })) return;
      if (!emit({ type: 'ping' })) return;
      for (const piece of tokenPieces(reply.text)) {
        if (!emit({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } })) return;
        rec.firstTokenMs ??= Date.now() - receivedAt.getTime();
        await paceToken();
      }
      if (!emit({ type: 'content_block_stop', index })) return;
      index++;
    }
    if (reply.toolUse) {
      const { id, name } = reply.toolUse;
      if (
        !emit({
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id, name, input: {} },
        })
      )
        return;
      for (const piece of tokenPieces(JSON.stringify(reply.toolUse.input))) {
        if (
          !emit({
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: piece },
          })
        )
          return;
        rec.firstTokenMs ??= Date.now() - receivedAt.getTime();
        await paceToken();
      }
      if (!emit({ type: 'content_block_stop', index })) return;
    }
    if (
      !emit({
        type: 'message_delta',
        delta: { stop_reason: reply.stopReason, stop_sequence: null },
        usage: {
          input_tokens: usage.input_tokens,
          cache_creation_input_tokens: usage.cache_creation_input_tokens,
          cache_read_input_tokens: usage.cache_read_input_tokens,
          output_tokens: usage.output_tokens,
        },
      })
    ) {
      return;
    }
    if (!emit({ type: 'message_stop' })) return;
    rec.completed = true;
    res.end();
  }

  function newRecord(receivedAt: Date, body: unknown, stream: boolean): LlmRequestRecord {
    const record: LlmRequestRecord = { receivedAt, body, stream, status: 0, completed: false };
    recorded.push(record);
    return record;
  }

  const listening = await listenOnFreePort(server, host);
  return {
    url: `http://${host}:${listening.port}`,
    recorded,
    cache,
    setScript(next) {
      script = next;
      scriptCursor = 0;
    },
    queueFailures(next) {
      failures.push(...next);
    },
    reset() {
      recorded.length = 0;
      script = [];
      scriptCursor = 0;
      repliesServed = 0;
      failures = [];
      cache.clear();
    },
    stop: () => listening.close(),
  };
}

function sse(data: { type: string; [key: string]: unknown }): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The Models API: one model (`GET /v1/models/{id}`, 404 when not served) or the list (newest first, one page). */
function serveModels(res: ServerResponse, path: string, today: string): void {
  const info = (id: string) => ({
    type: 'model',
    id,
    display_name: displayName(id),
    // Not the real release dates (the stand-in does not know them); ordered so the list reads newest first.
    created_at: '2025-10-01T00:00:00Z',
  });
  const id = path.split('/')[3];
  if (id !== undefined) {
    const model = decodeURIComponent(id);
    if (servedOnDate(model, 'llm', today)) sendJson(res, 200, info(model));
    else sendError(res, 'not_found_error', `model: ${model}`);
    return;
  }
  const data = servedModels(['llm'], today).map(info);
  sendJson(res, 200, {
    data,
    has_more: false,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  });
}

function sendError(
  res: ServerResponse,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const requestId = providerId('req_01');
  sendJson(
    res,
    ERROR_STATUS[type] ?? 500,
    { type: 'error', error: { type, message }, request_id: requestId },
    {
      'request-id': requestId,
      ...headers,
    },
  );
}

/** Splits output into ~token-sized pieces (4 characters), never inside a surrogate pair. */
function tokenPieces(text: string): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += 4) pieces.push(chars.slice(i, i + 4).join(''));
  return pieces;
}

function shapeReply(
  reply: LlmReply,
  maxTokens: number,
): {
  text?: string;
  toolUse?: { id: string; name: string; input: Record<string, unknown> };
  stopReason: 'end_turn' | 'tool_use' | 'max_tokens';
  outputTokens: number;
} {
  const r = typeof reply === 'string' ? { text: reply } : reply;
  const toolUse = r.toolUse
    ? { id: r.toolUse.id ?? providerId('toolu_01'), name: r.toolUse.name, input: r.toolUse.input }
    : undefined;
  const text = r.text;
  const outputTokens =
    estimateTokens(text ?? '') + (toolUse ? estimateTokens(toolUse.name + JSON.stringify(toolUse.input)) : 0);
  if (outputTokens > maxTokens) {
    const truncated = Array.from(text ?? '')
      .slice(0, maxTokens * 4)
      .join('');
    return {
      text: truncated.length > 0 ? truncated : undefined,
      stopReason: 'max_tokens',
      outputTokens: Math.min(maxTokens, estimateTokens(truncated)),
    };
  }
  return {
    text,
    toolUse,
    stopReason: toolUse ? 'tool_use' : 'end_turn',
    outputTokens: Math.max(1, outputTokens),
  };
}

/** The unscripted answer: honest about what it is, and echoing what it answers so a caller can follow along. */
function simulatedReply(request: MessagesRequest): LlmReply {
  const last = request.messages.at(-1);
  const blocks =
    typeof last?.content === 'string' ? [{ type: 'text', text: last.content }] : (last?.content ?? []);
  const text = blocks
    .filter((b) => b.type === 'text')
    .map((b) => String(b.text))
    .join(' ')
    .trim();
  if (text) {
    const quoted = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    return `This is a simulated Claude reply to: "${quoted}"`;
  }
  return 'This is a simulated Claude reply to a tool result.';
}
