import { type ProviderStandins, startProviderStandins } from './index.ts';
import { type LatencyProfile, REALISTIC_PROFILE } from './profile.ts';

/**
 * Keyless mode for `npm start`: when a provider key is missing, the agent talks to the stand-ins instead and
 * everybody is told, loudly, that replies are simulated. The agent gets the stand-ins only through ordinary
 * configuration (the env below); nothing in production code knows about them.
 */

export const PROVIDER_KEY_VARIABLES = ['DEEPGRAM_API_KEY', 'ANTHROPIC_API_KEY', 'OPENAI_API_KEY'] as const;

/** The provider keys missing from `env` (any missing one switches all three providers to stand-ins). */
export function missingProviderKeys(env: NodeJS.ProcessEnv = process.env): string[] {
  return PROVIDER_KEY_VARIABLES.filter((name) => !env[name]?.trim());
}

export const SIMULATED_BANNER = [
  '',
  '################################################################################',
  '#  SIMULATED PROVIDERS: replies are not from Claude.                           #',
  '#  No provider keys were given, so speech recognition (Deepgram), replies      #',
  '#  (Anthropic) and speech (OpenAI) come from local stand-ins on 127.0.0.1.     #',
  '#  Set DEEPGRAM_API_KEY, ANTHROPIC_API_KEY and OPENAI_API_KEY to use the real  #',
  '#  services.                                                                   #',
  '################################################################################',
  '',
].join('\n');

export interface SimulatedProviders {
  standins: ProviderStandins;
  /**
   * Environment for the agent process: keys (placeholders the stand-ins accept), base URLs, and
   * PROVIDERS_SIMULATED=true so the agent can tell the caller (e.g. say it in the greeting or send it to
   * the web UI as a participant attribute). ANTHROPIC_BASE_URL and OPENAI_BASE_URL are also what the
   * Anthropic and OpenAI SDKs read on their own; the Deepgram plugin needs `baseUrl` passed explicitly.
   */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startSimulatedProviders(
  options: { profile?: Partial<LatencyProfile>; host?: string; quiet?: boolean } = {},
): Promise<SimulatedProviders> {
  const standins = await startProviderStandins({
    host: options.host,
    profile: { ...REALISTIC_PROFILE, ...options.profile },
  });
  if (!options.quiet) console.warn(SIMULATED_BANNER);
  return {
    standins,
    env: {
      PROVIDERS_SIMULATED: 'true',
      DEEPGRAM_API_KEY: 'simulated-deepgram-key',
      DEEPGRAM_BASE_URL: standins.deepgramUrl,
      ANTHROPIC_API_KEY: 'simulated-anthropic-key',
      ANTHROPIC_BASE_URL: standins.anthropicUrl,
      OPENAI_API_KEY: 'simulated-openai-key',
      OPENAI_BASE_URL: standins.openaiUrl,
      OPENAI_REALTIME_BASE_URL: standins.openaiRealtimeUrl,
      // The Realtime stand-in's TLS certificate (made at its start), trusted by the agent process only.
      NODE_EXTRA_CA_CERTS: standins.realtimeTls.caFile,
    },
    stop: () => standins.stop(),
  };
}
