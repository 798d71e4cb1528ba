import Anthropic from '@anthropic-ai/sdk';
import {
  APIConnectionError,
  type APIConnectOptions,
  APIStatusError,
  APITimeoutError,
  DEFAULT_API_CONNECT_OPTIONS,
  llm,
} from '@livekit/agents';
import { providerFetch } from '../pipeline/provider-http.ts';
import { toAnthropicPrompt, toAnthropicToolChoice, toAnthropicTools } from './chat-context-mapping.ts';

export interface ClaudeLLMOptions {
  model: string;
  apiKey: string;
  /** Anthropic API base URL; unset = the public API. */
  baseURL?: string;
  maxTokens: number;
  temperature?: number;
  /** Mark the system prompt and the conversation so far for prompt caching. Default true. */
  promptCaching?: boolean;
  /** Share a client (tests, or to keep one connection pool per process). */
  client?: Anthropic;
}

/** HTTP statuses worth another attempt: timeouts, conflicts, rate limits, server errors and 529 overloaded. */
export function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * Claude as a LiveKit agents `llm.LLM`, over @anthropic-ai/sdk. There is no Anthropic plugin for agents-js, so
 * this maps the framework's chat context, tools and retry contract onto the Messages streaming API.
 * The SDK's own retries are off: the framework retries (and gives up) by `connOptions`, which keeps the
 * voice pipeline's latency budget in one place.
 */
export class ClaudeLLM extends llm.LLM {
  readonly #opts: Required<Omit<ClaudeLLMOptions, 'client' | 'baseURL' | 'temperature'>> &
    Pick<ClaudeLLMOptions, 'temperature'>;
  readonly #client: Anthropic;

  constructor(options: ClaudeLLMOptions) {
    super();
    this.#opts = {
      model: options.model,
      apiKey: options.apiKey,
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      promptCaching: options.promptCaching ?? true,
    };
    this.#client =
      options.client ??
      new Anthropic({
        apiKey: options.apiKey,
        baseURL: options.baseURL ?? null,
        maxRetries: 0,
        // Keeps the connection open between turns (see PROVIDER_KEEP_ALIVE_MS).
        fetch: providerFetch,
      });
  }

  label(): string {
    return 'anthropic.ClaudeLLM';
  }
  override get model(): string {
    return this.#opts.model;
  }
  override get provider(): string {
    return 'anthropic';
  }

  /**
   * Opens the HTTP connection (and warms the SDK's code paths) before the first reply, which otherwise pays for
   * both in its time to first token. GET /v1/models costs no tokens; its answer does not matter.
   */
  protected override async _prewarmImpl(signal: AbortSignal): Promise<void> {
    await this.#client.models.list({ limit: 1 }, { signal, timeout: 5_000 }).catch(() => undefined);
  }

  chat({
    chatCtx,
    toolCtx,
    connOptions = DEFAULT_API_CONNECT_OPTIONS,
    parallelToolCalls,
    toolChoice,
  }: {
    chatCtx: llm.ChatContext;
    toolCtx?: llm.ToolContextLike;
    connOptions?: APIConnectOptions;
    parallelToolCalls?: boolean;
    toolChoice?: llm.ToolChoice;
    extraKwargs?: Record<string, unknown>;
  }): ClaudeLLMStream {
    return new ClaudeLLMStream(this, {
      chatCtx,
      toolCtx,
      connOptions,
      client: this.#client,
      model: this.#opts.model,
      maxTokens: this.#opts.maxTokens,
      temperature: this.#opts.temperature,
      promptCaching: this.#opts.promptCaching,
      parallelToolCalls,
      toolChoice,
    });
  }
}

interface PendingToolUse {
  id: string;
  name: string;
  json: string;
}

interface RunningUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

function toCompletionUsage(u: RunningUsage): llm.CompletionUsage {
  // Framework convention (OpenAI's): promptTokens counts every input token, cached ones included. Anthropic's
  // input_tokens excludes cache reads and writes, so add them back; the usage meter subtracts them again.
  const promptTokens = u.input + u.cacheRead + u.cacheCreation;
  return {
    promptTokens,
    promptCachedTokens: u.cacheRead,
    cacheCreationTokens: u.cacheCreation,
    completionTokens: u.output,
    totalTokens: promptTokens + u.output,
  };
}

export class ClaudeLLMStream extends llm.LLMStream {
  readonly #client: Anthropic;
  readonly #model: string;
  readonly #maxTokens: number;
  readonly #temperature: number | undefined;
  readonly #promptCaching: boolean;
  readonly #parallelToolCalls: boolean | undefined;
  readonly #toolChoice: llm.ToolChoice | undefined;

  constructor(
    owner: ClaudeLLM,
    opts: {
      chatCtx: llm.ChatContext;
      toolCtx?: llm.ToolContextLike;
      connOptions: APIConnectOptions;
      client: Anthropic;
      model: string;
      maxTokens: number;
      temperature: number | undefined;
      promptCaching: boolean;
      parallelToolCalls: boolean | undefined;
      toolChoice: llm.ToolChoice | undefined;
    },
  ) {
    super(owner, { chatCtx: opts.chatCtx, toolCtx: opts.toolCtx, connOptions: opts.connOptions });
    this.#client = opts.client;
    this.#model = opts.model;
    this.#maxTokens = opts.maxTokens;
    this.#temperature = opts.temperature;
    this.#promptCaching = opts.promptCaching;
    this.#parallelToolCalls = opts.parallelToolCalls;
    this.#toolChoice = opts.toolChoice;
  }

  protected async run(): Promise<void> {
    // Once text or a tool call reached the pipeline, a retry would speak it twice: not retryable any more.
    let retryable = true;
    const signal = this.abortController.signal;
    try {
      const { system, messages } = toAnthropicPrompt(this.chatCtx, { cache: this.#promptCaching });
      const tools = toAnthropicTools(this.toolCtx);
      const toolChoice = tools ? toAnthropicToolChoice(this.#toolChoice, this.#parallelToolCalls) : undefined;
      const params: Anthropic.MessageCreateParamsStreaming = {
        model: this.#model,
        max_tokens: this.#maxTokens,
        messages,
        stream: true,
        ...(system ? { system } : {}),
        ...(tools ? { tools } : {}),
        ...(toolChoice ? { tool_choice: toolChoice } : {}),
      };
      // SDK 1.14's types no longer list `temperature`; the API still accepts it.
      if (this.#temperature !== undefined)
        (params as unknown as Record<string, unknown>).temperature = this.#temperature;

      const stream = await this.#client.messages.create(params, {
        signal,
        timeout: this._connOptions.timeoutMs,
      });

      let messageId = '';
      const usage: RunningUsage = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
      const toolUses = new Map<number, PendingToolUse>();

      for await (const event of stream) {
        if (signal.aborted) break;
        switch (event.type) {
          case 'message_start': {
            messageId = event.message.id;
            const u = event.message.usage;
            usage.input = u.input_tokens ?? 0;
            usage.output = u.output_tokens ?? 0;
            usage.cacheRead = u.cache_read_input_tokens ?? 0;
            usage.cacheCreation = u.cache_creation_input_tokens ?? 0;
            // Report input usage at once: an interrupted reply still bills its prompt, and the framework's
            // llm_metrics keeps the last usage it saw before the abort.
            this.queue.put({ id: messageId, usage: toCompletionUsage(usage) });
            break;
          }
          case 'content_block_start':
            if (event.content_block.type === 'tool_use') {
              toolUses.set(event.index, {
                id: event.content_block.id,
                name: event.content_block.name,
                json: '',
              });
            } else if (event.content_block.type === 'text' && event.content_block.text) {
              retryable = false;
              this.queue.put({
                id: messageId,
                delta: { role: 'assistant', content: event.content_block.text },
              });
            }
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text) {
              retryable = false;
              this.queue.put({ id: messageId, delta: { role: 'assistant', content: event.delta.text } });
            } else if (event.delta.type === 'input_json_delta') {
              const pending = toolUses.get(event.index);
              if (pending) pending.json += event.delta.partial_json;
            }
            break;
          case 'content_block_stop': {
            const pending = toolUses.get(event.index);
            if (pending) {
              toolUses.delete(event.index);
              retryable = false;
              this.queue.put({
                id: messageId,
                delta: {
                  role: 'assistant',
                  toolCalls: [
                    llm.FunctionCall.create({
                      callId: pending.id,
                      name: pending.name,
                      args: pending.json || '{}',
                    }),
                  ],
                },
              });
            }
            break;
          }
          case 'message_delta': {
            const u = event.usage;
            usage.output = u.output_tokens ?? usage.output;
            if (u.input_tokens != null) usage.input = u.input_tokens;
            if (u.cache_read_input_tokens != null) usage.cacheRead = u.cache_read_input_tokens;
            if (u.cache_creation_input_tokens != null) usage.cacheCreation = u.cache_creation_input_tokens;
            this.queue.put({ id: messageId, usage: toCompletionUsage(usage) });
            break;
          }
          default:
            break;
        }
      }
    } catch (error) {
      if (signal.aborted || error instanceof Anthropic.APIUserAbortError) return;
      throw toFrameworkError(error, retryable);
    }
  }
}

/** Anthropic SDK errors → the framework's API errors, whose `retryable` drives the framework's retry loop. */
export function toFrameworkError(error: unknown, retryable: boolean): Error {
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new APITimeoutError({ message: 'Anthropic request timed out', options: { retryable } });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new APIConnectionError({
      message: `Anthropic connection failed: ${error.message}`,
      options: { retryable },
    });
  }
  if (error instanceof Anthropic.APIError) {
    return new APIStatusError({
      message: `Anthropic API error ${error.status ?? ''}: ${error.message}`.trim(),
      options: {
        statusCode: error.status ?? -1,
        requestId: error.requestID ?? null,
        body: (error.error as object | undefined) ?? null,
        retryable: retryable && isRetryableStatus(error.status),
      },
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new APIConnectionError({ message: `Anthropic stream failed: ${message}`, options: { retryable } });
}
