/**
 * The agent's Silero VAD settings, shared with the benchmarks that measure it (bench/src/vad-cost.ts,
 * interrupt-onset.ts). Low-latency end of speech: 350 ms of silence ends a VAD segment (default 550 ms); the
 * endpointing delay after it still lets a short pause pass without cutting the caller off.
 */
export const SILERO_VAD_OPTIONS = { minSilenceDuration: 350, prefixPaddingDuration: 300 } as const;
