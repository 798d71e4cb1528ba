import type { metrics } from '@livekit/agents';
import { llmCost, llmPrice, roundUsd, sttCost, sttPrice, ttsCost, ttsPrice } from '@voice/core/pricing';

export interface UsageModels {
  stt: string;
  llm: string;
  tts: string;
  /**
   * Whether the TTS streams natively. A TTS that synthesises whole texts (OpenAISpeech) runs behind the framework's
   * StreamAdapter, which reports every segment twice: once per HTTP request (`streamed: false`) and once for the
   * adapter's stream (`streamed: true`). Only one of the two may be counted.
   */
  ttsStreams: boolean;
}

export interface UsageSnapshot {
  stt: { model: string; audioSeconds: number; cost: number | null };
  llm: {
    model: string;
    requests: number;
    inputTokens: number;
    outputTokens: number;
    cacheReadTokens: number;
    cacheCreationTokens: number;
    cost: number | null;
  };
  tts: { model: string; requests: number; characters: number; cost: number | null };
  /** LLM tokens of every kind (what `usage_logs.tokens_used` holds). */
  tokensUsed: number;
  /** Sum of the priced parts, rounded to 6 decimals. */
  estimatedCost: number;
  /** Models without a price in core/src/pricing.ts (their cost counts as 0 and is flagged). */
  unpriced: string[];
}

/**
 * Adds up one call's usage per provider, from what we measure ourselves (STT audio) and from the framework's
 * metrics (LLM tokens, TTS characters), and prices it with the table in core/src/pricing.ts.
 */
export class UsageMeter {
  readonly #models: UsageModels;
  #sttSeconds = 0;
  #llm = { requests: 0, input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  #tts = { requests: 0, characters: 0 };

  constructor(models: UsageModels) {
    this.#models = models;
  }

  /** Audio actually streamed to the STT provider (the billed seconds). */
  addSttAudio(seconds: number): void {
    if (Number.isFinite(seconds) && seconds > 0) this.#sttSeconds += seconds;
  }

  /** Speech synthesised outside the session's own pipeline (the prefetched greeting): one request. */
  addTtsRequest(characters: number): void {
    this.#tts.requests += 1;
    this.#tts.characters += Math.max(0, characters);
  }

  /** Feed every `metrics_collected` event; the meter picks what bills. */
  onMetrics(m: metrics.AgentMetrics): void {
    if (m.type === 'llm_metrics') {
      const cached = m.promptCachedTokens || 0;
      const created = m.cacheCreationTokens || 0;
      // promptTokens counts all input (see ClaudeLLM); bill the uncached rest at the input rate.
      const uncached = Math.max(0, (m.promptTokens || 0) - cached - created);
      if (m.promptTokens || m.completionTokens) this.#llm.requests += 1;
      this.#llm.input += uncached;
      this.#llm.output += m.completionTokens || 0;
      this.#llm.cacheRead += cached;
      this.#llm.cacheCreation += created;
    } else if (m.type === 'tts_metrics') {
      if (m.streamed !== this.#models.ttsStreams) return; // the double report; see UsageModels.ttsStreams
      this.#tts.requests += 1;
      this.#tts.characters += m.charactersCount || 0;
    }
  }

  snapshot(): UsageSnapshot {
    const { stt: sttModel, llm: llmModel, tts: ttsModel } = this.#models;
    const sttUsd = sttCost(sttModel, this.#sttSeconds);
    const llmUsd = llmCost(llmModel, {
      inputTokens: this.#llm.input,
      outputTokens: this.#llm.output,
      cacheReadTokens: this.#llm.cacheRead,
      cacheCreationTokens: this.#llm.cacheCreation,
    });
    const ttsUsd = ttsCost(ttsModel, this.#tts.characters);
    const unpriced = [
      ...(sttPrice(sttModel) ? [] : [`stt:${sttModel}`]),
      ...(llmPrice(llmModel) ? [] : [`llm:${llmModel}`]),
      ...(ttsPrice(ttsModel) ? [] : [`tts:${ttsModel}`]),
    ];
    return {
      stt: {
        model: sttModel,
        audioSeconds: round3(this.#sttSeconds),
        cost: sttUsd === undefined ? null : roundUsd(sttUsd),
      },
      llm: {
        model: llmModel,
        requests: this.#llm.requests,
        inputTokens: this.#llm.input,
        outputTokens: this.#llm.output,
        cacheReadTokens: this.#llm.cacheRead,
        cacheCreationTokens: this.#llm.cacheCreation,
        cost: llmUsd === undefined ? null : roundUsd(llmUsd),
      },
      tts: {
        model: ttsModel,
        requests: this.#tts.requests,
        characters: this.#tts.characters,
        cost: ttsUsd === undefined ? null : roundUsd(ttsUsd),
      },
      tokensUsed: this.#llm.input + this.#llm.output + this.#llm.cacheRead + this.#llm.cacheCreation,
      estimatedCost: roundUsd((sttUsd ?? 0) + (llmUsd ?? 0) + (ttsUsd ?? 0)),
      unpriced,
    };
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
