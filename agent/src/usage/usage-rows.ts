import { LLM_PRICES, normalizeModelId, realtimeSpeechPrice, STT_PRICES, ttsPrice } from '@voice/core/pricing';
import { usageLogIdFor } from '../persistence/deterministic-id.ts';
import type { CallIdentity } from '../persistence/message-rows.ts';
import type { UsageSnapshot } from './usage-meter.ts';

export interface UsageLogRow {
  id: string;
  user_id: string;
  feature: 'voice_call';
  tokens_used: number;
  estimated_cost: number;
  metadata: Record<string, unknown>;
  created_at: string;
}

/** The call's one `usage_logs` row (same id at every checkpoint; `final` once the call ended). */
export function toUsageLogRow(
  call: CallIdentity,
  usage: UsageSnapshot,
  opts: { startedAtMs: number; final: boolean; endReason?: string },
): UsageLogRow {
  const priceSource = (table: Record<string, { source: { url: string; checked: string } }>, model: string) =>
    table[normalizeModelId(model)]?.source ?? null;
  return {
    id: usageLogIdFor(call.sessionId),
    user_id: call.userId,
    feature: 'voice_call',
    tokens_used: usage.tokensUsed,
    estimated_cost: usage.estimatedCost,
    metadata: {
      voice_call: true,
      session_id: call.sessionId,
      conversation_id: call.conversationId,
      final: opts.final,
      ...(opts.endReason ? { end_reason: opts.endReason } : {}),
      stt: { model: usage.stt.model, audio_seconds: usage.stt.audioSeconds, cost: usage.stt.cost },
      llm: {
        model: usage.llm.model,
        requests: usage.llm.requests,
        input_tokens: usage.llm.inputTokens,
        output_tokens: usage.llm.outputTokens,
        cache_read_tokens: usage.llm.cacheReadTokens,
        cache_creation_tokens: usage.llm.cacheCreationTokens,
        cost: usage.llm.cost,
        // Each Claude model that answered (CLAUDE_FALLBACK_MODEL stands in when CLAUDE_MODEL fails), priced apart.
        models: usage.llm.models.map((m) => ({
          model: m.model,
          requests: m.requests,
          input_tokens: m.inputTokens,
          output_tokens: m.outputTokens,
          cache_read_tokens: m.cacheReadTokens,
          cache_creation_tokens: m.cacheCreationTokens,
          cost: m.cost,
          pricing_source: priceSource(LLM_PRICES, m.model),
        })),
      },
      tts: {
        requests: usage.tts.requests,
        characters: usage.tts.characters,
        cost: usage.tts.cost,
        // Each speech engine the call used (a failover uses more than one), priced by its own unit.
        engines: usage.tts.engines.map((e) => ({
          provider: e.provider,
          model: e.model,
          requests: e.requests,
          characters: e.characters,
          ...(e.tokens
            ? {
                text_input_tokens: e.tokens.textInputTokens,
                cached_text_input_tokens: e.tokens.cachedTextInputTokens,
                audio_input_tokens: e.tokens.audioInputTokens,
                text_output_tokens: e.tokens.textOutputTokens,
                audio_output_tokens: e.tokens.audioOutputTokens,
              }
            : {}),
          cost: e.cost,
          pricing_source: (e.tokens ? realtimeSpeechPrice(e.model) : ttsPrice(e.model))?.source ?? null,
        })),
      },
      unpriced: usage.unpriced,
      pricing_sources: {
        stt: priceSource(STT_PRICES, usage.stt.model),
        llm: priceSource(LLM_PRICES, usage.llm.model),
      },
    },
    created_at: new Date(opts.startedAtMs).toISOString(),
  };
}

/** The usage totals columns of `voice_sessions` (absolute values, so a repeated write is harmless). */
export function toSessionTotals(usage: UsageSnapshot): Record<string, number> {
  return {
    stt_audio_seconds: usage.stt.audioSeconds,
    llm_input_tokens: usage.llm.inputTokens,
    llm_output_tokens: usage.llm.outputTokens,
    llm_cache_read_tokens: usage.llm.cacheReadTokens,
    llm_cache_creation_tokens: usage.llm.cacheCreationTokens,
    tts_characters: usage.tts.characters,
    estimated_cost: usage.estimatedCost,
  };
}
