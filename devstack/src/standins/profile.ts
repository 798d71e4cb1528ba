/**
 * Provider latencies the stand-ins inject, in one place so a benchmark sets them once.
 * - sttFinalMs: end of speech (last voiced audio received) → final transcript sent. The final never comes
 *   before the stand-in has heard enough silence to call the endpoint (see SpeechDetectorOptions).
 * - llmTtftMs: request received → first streamed content (message_start and the first delta).
 * - llmTokensPerSecond: output pacing after the first token; 0 means as fast as possible.
 * - ttsTtfbMs: request received → first audio byte.
 */
export interface LatencyProfile {
  sttFinalMs: number;
  llmTtftMs: number;
  llmTokensPerSecond: number;
  ttsTtfbMs: number;
}

/** Tests: no injected latency, so they spend their time on the code under test. */
export const FAST_PROFILE: LatencyProfile = {
  sttFinalMs: 0,
  llmTtftMs: 0,
  llmTokensPerSecond: 0,
  ttsTtfbMs: 0,
};

/**
 * Keyless `npm start` and benchmarks that want the feel of the real services: roughly what Deepgram nova-3,
 * Claude Sonnet and OpenAI tts-1 show from a nearby region (order of magnitude, not a measurement).
 */
export const REALISTIC_PROFILE: LatencyProfile = {
  sttFinalMs: 300,
  llmTtftMs: 600,
  llmTokensPerSecond: 70,
  ttsTtfbMs: 250,
};
