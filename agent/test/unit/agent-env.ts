import { ConfigError } from '@voice/core';
import { loadAgentConfig } from '@voice/core/config/agent';

/**
 * What every agent config needs, with values these tests never reach (no database, no LiveKit). OPENAI_API_KEY is
 * left out: whether it is set decides which speech engines may be configured, which some tests vary.
 */
export const AGENT_BASE_ENV: Readonly<Record<string, string>> = {
  SUPABASE_URL: 'http://127.0.0.1:9',
  SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40),
  LIVEKIT_URL: 'ws://127.0.0.1:9',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret',
  DEEPGRAM_API_KEY: 'k',
  ANTHROPIC_API_KEY: 'k',
};

/** AGENT_BASE_ENV with every provider key set. */
export const AGENT_ENV: Readonly<Record<string, string>> = { ...AGENT_BASE_ENV, OPENAI_API_KEY: 'k' };

/** The problems start-up would report for this environment (empty when it starts). */
export function agentConfigProblems(
  env: Record<string, string>,
): Array<{ variable: string; message: string }> {
  try {
    loadAgentConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}
