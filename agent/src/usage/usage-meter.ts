import type { metrics } from '@livekit/agents';
import type { SpeechProvider } from '@voice/core/config/agent';
import {
  llmCost,
  llmPrice,
  type RealtimeSpeechTokens,
  realtimeSpeechCost,
  realtimeSpeechPrice,
  roundUsd,
  sttCost,
  sttPrice,
  ttsCost,
  ttsPrice,
} from '@voice/core/pricing';
import type { SpeechUsage } from './speech-usage.ts';

/** The label of the framework's llm.FallbackAdapter (its own metrics repeat the answering model's). */
export const FALLBACK_ADAPTER_LABEL = 'FallbackAdapter';

export interface UsageModels {
  stt: string;
  llm: string;
}

/** What one speech engine (provider + model) was used for during the call. */
export interface SpeechEngineUsage {
  provider: SpeechProvider;
  model: string;
  requests: number;
  characters: number;
  /** Realtime API engines: the tokens `response.done` reported. */
  tokens?: RealtimeSpeechTokens;
  cost: number | null;
}

/** Claude tokens of one model. */
export interface LlmModelUsage {
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  cost: number | null;
}

export interface UsageSnapshot {
  stt: { model: string; audioSeconds: number; cost: number | null };
  /**
   * Claude over every model that answered (CLAUDE_MODEL, and CLAUDE_FALLBACK_MODEL when it stood in): `model` is
   * the configured one, the totals are over all, and `models` has each apart, priced at its own rates.
   */
  llm: Omit<LlmModelUsage, 'model'> & { model: string; models: LlmModelUsage[] };
  /** Speech over every engine used; `engines` has each one apart (priced by its own unit). */
  tts: { requests: number; characters: number; cost: number | null; engines: SpeechEngineUsage[] };
  /** LLM tokens of every kind (what `usage_logs.tokens_used` holds). */
  tokensUsed: number;
  /** Sum of the priced parts, rounded to 6 decimals. */
  estimatedCost: number;
  /** Models without a price in core/src/pricing.ts (their cost counts as 0 and is flagged). */
  unpriced: string[];
}

/**
 * Adds up one call's usage per provider, from what we measure ourselves (STT audio), from the framework's metrics
 * (LLM tokens) and from what the speech engines report per request (characters, or Realtime API tokens), and
 * prices it with the table in core/src/pricing.ts.
 */
export class UsageMeter {
  readonly #models: UsageModels;
  #sttSeconds = 0;
  readonly #llm = new Map<
    string,
    { requests: number; input: number; output: number; cacheRead: number; cacheCreation: number }
  >();
  readonly #speech = new Map<string, Omit<SpeechEngineUsage, 'cost'>>();

  constructor(models: UsageModels) {
    this.#models = models;
  }

  /** Audio actually streamed to the STT provider (the billed seconds). */
  addSttAudio(seconds: number): void {
    if (Number.isFinite(seconds) && seconds > 0) this.#sttSeconds += seconds;
  }

  /** One speech request, as its engine reported it (see SpeechUsage). */
  addSpeech(usage: SpeechUsage): void {
    const key = `${usage.provider}:${usage.model}`;
    let entry = this.#speech.get(key);
    if (!entry) {
      entry = { provider: usage.provider, model: usage.model, requests: 0, characters: 0 };
      this.#speech.set(key, entry);
    }
    entry.requests += 1;
    entry.characters += Math.max(0, usage.characters);
    if (usage.tokens) {
      entry.tokens ??= {
        textInputTokens: 0,
        cachedTextInputTokens: 0,
        audioInputTokens: 0,
        textOutputTokens: 0,
        audioOutputTokens: 0,
      };
      const t = entry.tokens;
      t.textInputTokens += usage.tokens.textInputTokens;
      t.cachedTextInputTokens += usage.tokens.cachedTextInputTokens;
      t.audioInputTokens += usage.tokens.audioInputTokens;
      t.textOutputTokens += usage.tokens.textOutputTokens;
      t.audioOutputTokens += usage.tokens.audioOutputTokens;
    }
  }

  /**
   * Feed every `metrics_collected` event; the meter picks what bills. Speech is not taken from here: engines
   * report their own requests (addSpeech).
   */
  onMetrics(m: metrics.AgentMetrics): void {
    if (m.type === 'llm_metrics') {
      // With CLAUDE_FALLBACK_MODEL the session's LLM is the framework's FallbackAdapter: it forwards the metrics of
      // the model that answered (named in metadata) and reports the same chunks again as its own stream: skip those.
      if (m.label === FALLBACK_ADAPTER_LABEL) return;
      // A request that failed before its first event (a 404, a 529) reports zero tokens: nothing billed.
      if (!m.promptTokens && !m.completionTokens) return;
      const model = m.metadata?.modelName || this.#models.llm;
      let entry = this.#llm.get(model);
      if (!entry) {
        entry = { requests: 0, input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
        this.#llm.set(model, entry);
      }
      const cached = m.promptCachedTokens || 0;
      const created = m.cacheCreationTokens || 0;
      // promptTokens counts all input (see ClaudeLLM); bill the uncached rest at the input rate.
      const uncached = Math.max(0, (m.promptTokens || 0) - cached - created);
      entry.requests += 1;
      entry.input += uncached;
      entry.output += m.completionTokens || 0;
      entry.cacheRead += cached;
      entry.cacheCreation += created;
    }
  }

  snapshot(): UsageSnapshot {
    const { stt: sttModel, llm: llmModel } = this.#models;
    const sttUsd = sttCost(sttModel, this.#sttSeconds);
    const llmModels: LlmModelUsage[] = [...this.#llm.entries()].map(([model, e]) => {
      const usd = llmCost(model, {
        inputTokens: e.input,
        outputTokens: e.output,
        cacheReadTokens: e.cacheRead,
        cacheCreationTokens: e.cacheCreation,
      });
      return {
        model,
        requests: e.requests,
        inputTokens: e.input,
        outputTokens: e.output,
        cacheReadTokens: e.cacheRead,
        cacheCreationTokens: e.cacheCreation,
        cost: usd === undefined ? null : roundUsd(usd),
      };
    });
    const sum = (pick: (m: LlmModelUsage) => number) => llmModels.reduce((n, m) => n + pick(m), 0);
    const llmTotals = {
      requests: sum((m) => m.requests),
      inputTokens: sum((m) => m.inputTokens),
      outputTokens: sum((m) => m.outputTokens),
      cacheReadTokens: sum((m) => m.cacheReadTokens),
      cacheCreationTokens: sum((m) => m.cacheCreationTokens),
    };
    const llmUsd = sum((m) => m.cost ?? 0);
    const llmUnpriced = [
      ...new Set([llmModel, ...llmModels.map((m) => m.model)].filter((m) => !llmPrice(m))),
    ];
    const engines: SpeechEngineUsage[] = [...this.#speech.values()].map((e) => {
      const usd = e.tokens ? realtimeSpeechCost(e.model, e.tokens) : ttsCost(e.model, e.characters);
      return {
        ...e,
        ...(e.tokens ? { tokens: { ...e.tokens } } : {}),
        cost: usd === undefined ? null : roundUsd(usd),
      };
    });
    const speechPriced = (e: SpeechEngineUsage) =>
      e.tokens ? realtimeSpeechPrice(e.model) : ttsPrice(e.model);
    const ttsUsd = engines.reduce((sum, e) => sum + (e.cost ?? 0), 0);
    const unpriced = [
      ...(sttPrice(sttModel) ? [] : [`stt:${sttModel}`]),
      ...llmUnpriced.map((m) => `llm:${m}`),
      ...engines.filter((e) => !speechPriced(e)).map((e) => `tts:${e.model}`),
    ];
    return {
      stt: {
        model: sttModel,
        audioSeconds: round3(this.#sttSeconds),
        cost: sttUsd === undefined ? null : roundUsd(sttUsd),
      },
      llm: {
        model: llmModel,
        ...llmTotals,
        cost: llmModels.some((m) => m.cost === null) || !llmPrice(llmModel) ? null : roundUsd(llmUsd),
        models: llmModels,
      },
      tts: {
        requests: engines.reduce((n, e) => n + e.requests, 0),
        characters: engines.reduce((n, e) => n + e.characters, 0),
        // Null when an engine has no price (it is listed in `unpriced`; the others still count in the total).
        cost: engines.some((e) => e.cost === null) ? null : roundUsd(ttsUsd),
        engines,
      },
      tokensUsed:
        llmTotals.inputTokens +
        llmTotals.outputTokens +
        llmTotals.cacheReadTokens +
        llmTotals.cacheCreationTokens,
      estimatedCost: roundUsd((sttUsd ?? 0) + llmUsd + ttsUsd),
      unpriced,
    };
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
