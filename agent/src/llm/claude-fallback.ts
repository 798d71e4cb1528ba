import Anthropic from '@anthropic-ai/sdk';
import { llm } from '@livekit/agents';
import type { AgentConfig } from '@voice/core/config/agent';
import { providerFetch } from '../pipeline/provider-http.ts';
import { ClaudeLLM } from './claude-llm.ts';

/**
 * The framework's llm.FallbackAdapter around our ClaudeLLM, so that CLAUDE_FALLBACK_MODEL answers when
 * CLAUDE_MODEL cannot: a 404 (the model is retired or unknown) or an overload (529, or any error before the first
 * word). The turn is answered by the fallback at once; the adapter then checks the primary in the background with
 * the same request (billed if it answers): while it keeps failing ("stays overloaded", or retired), the call's next
 * turns go to the fallback; once it answers, they go back to it. A new call starts on the primary.
 *
 * No retry on the primary first (maxRetryPerLLM 0): in agents 1.9 the adapter takes the recoverable error event of
 * an inner retry that then succeeded for a failure, and re-raises it after the text went out, so the session would
 * retry the whole reply and speak it twice (seen against the stand-in with one 529).
 *
 * Both models share one Anthropic client, so they share the kept-alive connection (the prewarm opens it for both).
 * The adapter's own metrics repeat the answering model's; the usage meter skips them (FALLBACK_ADAPTER_LABEL) and
 * records each model's tokens under its own name.
 */
export class ClaudeFallbackLLM extends llm.FallbackAdapter {
  readonly #primary: ClaudeLLM;

  constructor(primary: ClaudeLLM, fallback: ClaudeLLM, opts: { attemptTimeoutMs: number }) {
    super({
      llms: [primary, fallback],
      attemptTimeout: opts.attemptTimeoutMs / 1000,
      maxRetryPerLLM: 0,
      // Never: text already spoken from the first model would be repeated by the second.
      retryOnChunkSent: false,
    });
    this.#primary = primary;
  }

  /** The session prewarms its LLM; the adapter has no prewarm of its own. The client is shared: once is enough. */
  protected override async _prewarmImpl(_signal: AbortSignal): Promise<void> {
    this.#primary.prewarm();
  }
}

/** How long one attempt of one model may take before the next one is tried (the session's own LLM time-out). */
export const CLAUDE_ATTEMPT_TIMEOUT_MS = 15_000;

/** The call's LLM: ClaudeLLM for CLAUDE_MODEL, wrapped with CLAUDE_FALLBACK_MODEL when one is configured. */
export function buildClaudeLLM(config: AgentConfig, client?: Anthropic): llm.LLM {
  const { apiKey, baseUrl, model, fallbackModel, maxTokens } = config.anthropic;
  const shared =
    client ??
    new Anthropic({
      apiKey,
      baseURL: baseUrl ?? null,
      // The framework retries (connOptions); see ClaudeLLM.
      maxRetries: 0,
      fetch: providerFetch,
    });
  const claude = (m: string) => new ClaudeLLM({ apiKey, model: m, maxTokens, client: shared });
  if (!fallbackModel) return claude(model);
  return new ClaudeFallbackLLM(claude(model), claude(fallbackModel), {
    attemptTimeoutMs: CLAUDE_ATTEMPT_TIMEOUT_MS,
  });
}
