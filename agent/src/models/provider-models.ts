import Anthropic from '@anthropic-ai/sdk';
import type { AgentConfig } from '@voice/core/config/agent';
import type { ModelRole } from '@voice/core/model-calendar';
import OpenAI from 'openai';
import { providerFetch } from '../pipeline/provider-http.ts';

/**
 * What a provider says about a configured model:
 * - exists: it answered the model's id;
 * - missing: 404 (retired, unknown, or not available to this key): calls on it would fail every time;
 * - unverified: no answer we can act on (network, 5xx, 401/403): the calendar check still holds, calls go on.
 */
export type ProbeResult =
  | { status: 'exists' }
  | { status: 'missing'; detail: string }
  | { status: 'unverified'; detail: string };

export type ModelProbe = (model: string, role: ModelRole) => Promise<ProbeResult>;

const PROBE_TIMEOUT_MS = 5_000;

function fromError(error: unknown): ProbeResult {
  const status = (error as { status?: number }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 404) return { status: 'missing', detail: message };
  return { status: 'unverified', detail: status ? `HTTP ${status}` : message };
}

/**
 * Asks the providers whether a model exists: Anthropic `models.retrieve` (GET /v1/models/{id}) for Claude, OpenAI
 * GET /v1/models/{id} for the Realtime and speech models (each at the base URL its engine uses). Deepgram has no
 * such lookup per model; its models are checked against the calendar only. Costs no tokens.
 */
export function providerModelProbe(
  config: AgentConfig,
  fetch: typeof globalThis.fetch = providerFetch,
): ModelProbe {
  const anthropic = new Anthropic({
    apiKey: config.anthropic.apiKey,
    baseURL: config.anthropic.baseUrl ?? null,
    maxRetries: 1,
    timeout: PROBE_TIMEOUT_MS,
    fetch,
  });
  const openai = (baseURL: string | undefined) =>
    new OpenAI({
      apiKey: config.openai.apiKey || 'unset',
      ...(baseURL ? { baseURL } : {}),
      maxRetries: 1,
      timeout: PROBE_TIMEOUT_MS,
      fetch,
    });
  const speech = openai(config.openai.baseUrl);
  const realtime = openai(config.openai.realtimeBaseUrl);
  return async (model, role) => {
    try {
      if (role === 'llm') await anthropic.models.retrieve(model);
      else if (role === 'openai-realtime') await realtime.models.retrieve(model);
      else if (role === 'openai-speech') await speech.models.retrieve(model);
      else return { status: 'unverified', detail: 'no per-model lookup at this provider' };
      return { status: 'exists' };
    } catch (error) {
      return fromError(error);
    }
  };
}
