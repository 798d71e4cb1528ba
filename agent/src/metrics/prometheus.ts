import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Observation } from './observations.ts';

const LATENCY_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 5];

/** The worker's Prometheus metrics, fed by job processes' observations. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly #turnLatency: Histogram<'part'>;
  readonly #turns: Counter<'interrupted'>;
  readonly #callsActive: Gauge;
  readonly #callsEnded: Counter<'reason'>;
  readonly #callDuration: Histogram;
  readonly #usage: Counter<'kind'>;
  readonly #cost: Counter;
  readonly #providerErrors: Counter<'provider' | 'recoverable'>;
  readonly #speechSentences: Counter<'engine'>;
  readonly #speechMismatches: Counter<'engine'>;
  readonly #speechFailovers: Counter<'engine' | 'available'>;
  readonly #modelShutdownDays: Gauge<'model' | 'role'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.#turnLatency = new Histogram({
      name: 'voice_agent_turn_latency_seconds',
      help: 'Per-turn latency: part="e2e" is end of user speech to first agent audio; the others are its parts',
      labelNames: ['part'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#turns = new Counter({
      name: 'voice_agent_turns_total',
      help: 'Agent replies',
      labelNames: ['interrupted'],
      registers,
    });
    this.#callsActive = new Gauge({
      name: 'voice_agent_calls_active',
      help: 'Calls in progress on this worker',
      registers,
    });
    this.#callsEnded = new Counter({
      name: 'voice_agent_calls_ended_total',
      help: 'Calls ended, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.#callDuration = new Histogram({
      name: 'voice_agent_call_duration_seconds',
      help: 'Call length',
      buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    });
    this.#usage = new Counter({
      name: 'voice_agent_usage_total',
      help: 'Provider usage of finished calls: kind = stt_seconds | llm_input_tokens | llm_output_tokens | llm_cache_read_tokens | llm_cache_creation_tokens | tts_characters',
      labelNames: ['kind'],
      registers,
    });
    this.#cost = new Counter({
      name: 'voice_agent_estimated_cost_usd_total',
      help: 'Estimated provider cost of finished calls',
      registers,
    });
    this.#providerErrors = new Counter({
      name: 'voice_agent_provider_errors_total',
      help: 'Provider errors seen by the pipeline',
      labelNames: ['provider', 'recoverable'],
      registers,
    });
    this.#speechSentences = new Counter({
      name: 'voice_agent_speech_sentences_total',
      help: 'Sentences spoken, by speech engine (openai-realtime | deepgram | openai-speech)',
      labelNames: ['engine'],
      registers,
    });
    this.#speechMismatches = new Counter({
      name: 'voice_agent_speech_transcript_mismatches_total',
      help: "Sentences whose audio (by the engine's own transcript) says something else than the text it was given",
      labelNames: ['engine'],
      registers,
    });
    this.#speechFailovers = new Counter({
      name: 'voice_agent_speech_engine_changes_total',
      help: 'A speech engine failed (available="false": the next engine speaks) or recovered (available="true")',
      labelNames: ['engine', 'available'],
      registers,
    });
    this.#modelShutdownDays = new Gauge({
      name: 'voice_agent_model_shutdown_days',
      help: "Days until a configured model's shutdown date on the providers' calendar (only models that have one; 0 = shut down). Alert below 60.",
      labelNames: ['model', 'role'],
      registers,
    });
  }

  /** Days until a configured model's shutdown date (0: shut down), from the worker's model check. */
  modelShutdownDays(model: string, role: string, days: number): void {
    this.#modelShutdownDays.set({ model, role }, days);
  }

  record(o: Observation): void {
    switch (o.kind) {
      case 'turn':
        this.#turns.inc({ interrupted: String(o.interrupted) });
        for (const part of ['e2e', 'sttFinal', 'endOfTurn', 'llmTtft', 'ttsTtfb'] as const) {
          const v = o[part];
          if (v !== undefined) this.#turnLatency.observe({ part }, v);
        }
        break;
      case 'call_started':
        this.#callsActive.inc();
        break;
      case 'call_ended':
        this.#callsActive.dec();
        this.#callsEnded.inc({ reason: o.reason });
        this.#callDuration.observe(o.durationSeconds);
        break;
      case 'usage':
        this.#usage.inc({ kind: 'stt_seconds' }, o.sttSeconds);
        this.#usage.inc({ kind: 'llm_input_tokens' }, o.llmInputTokens);
        this.#usage.inc({ kind: 'llm_output_tokens' }, o.llmOutputTokens);
        this.#usage.inc({ kind: 'llm_cache_read_tokens' }, o.llmCacheReadTokens);
        this.#usage.inc({ kind: 'llm_cache_creation_tokens' }, o.llmCacheCreationTokens);
        this.#usage.inc({ kind: 'tts_characters' }, o.ttsCharacters);
        this.#cost.inc(o.costUsd);
        break;
      case 'provider_error':
        this.#providerErrors.inc({ provider: o.provider, recoverable: String(o.recoverable) });
        break;
      case 'speech_sentence':
        this.#speechSentences.inc({ engine: o.engine });
        if (o.mismatch) this.#speechMismatches.inc({ engine: o.engine });
        break;
      case 'speech_engine':
        this.#speechFailovers.inc({ engine: o.engine, available: String(o.available) });
        break;
    }
  }
}
