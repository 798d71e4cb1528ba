import { type AgentConfig, loadAgentConfig } from '@voice/core/config/agent';
import type { ProviderStandins } from '../../../devstack/src/standins/index.ts';

/** An agent config whose providers are the stand-ins (the database and LiveKit are not reached by these tests). */
export function standinAgentConfig(standins: ProviderStandins): AgentConfig {
  return loadAgentConfig({
    SUPABASE_URL: 'http://127.0.0.1:9',
    SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40),
    LIVEKIT_URL: 'ws://127.0.0.1:9',
    LIVEKIT_API_KEY: 'devkey',
    LIVEKIT_API_SECRET: 'secret',
    DEEPGRAM_API_KEY: 'k',
    DEEPGRAM_BASE_URL: standins.deepgramUrl,
    ANTHROPIC_API_KEY: 'k',
    ANTHROPIC_BASE_URL: standins.anthropicUrl,
    OPENAI_API_KEY: 'k',
    OPENAI_BASE_URL: standins.openaiUrl,
  });
}
