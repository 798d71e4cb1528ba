import { createLogger } from '@voice/core';
import { type AgentConfig, loadAgentConfig } from '@voice/core/config/agent';
import type { ProviderStandins } from '../../../devstack/src/standins/index.ts';
import type { CallSpeechOptions } from '../../src/pipeline/call-speech.ts';
import type { SpeechObserver, SpeechUsage, SpokenSentence } from '../../src/usage/speech-usage.ts';
import { AGENT_ENV } from './agent-env.ts';

/**
 * An agent config whose providers are the stand-ins (the database and LiveKit are not reached by these tests).
 * `env` adds or overrides variables (e.g. TTS_PROVIDERS).
 */
export function standinAgentConfig(
  standins: ProviderStandins,
  env: Record<string, string> = {},
): AgentConfig {
  return loadAgentConfig({
    ...AGENT_ENV,
    DEEPGRAM_BASE_URL: standins.deepgramUrl,
    ANTHROPIC_BASE_URL: standins.anthropicUrl,
    OPENAI_BASE_URL: standins.openaiUrl,
    OPENAI_REALTIME_BASE_URL: standins.openaiRealtimeUrl,
    ...env,
  });
}

/** What the speech engines reported, for assertions. */
export class RecordingSpeechObserver implements SpeechObserver {
  readonly usages: SpeechUsage[] = [];
  readonly sentences: SpokenSentence[] = [];
  usage(usage: SpeechUsage): void {
    this.usages.push(usage);
  }
  spoken(sentence: SpokenSentence): void {
    this.sentences.push(sentence);
  }
}

/** Speech options for engines talking to the stand-ins: the Realtime stand-in's certificate is trusted. */
export function standinSpeechOptions(
  standins: ProviderStandins,
  observer: SpeechObserver = new RecordingSpeechObserver(),
  extra: Partial<CallSpeechOptions> = {},
): CallSpeechOptions {
  return {
    observer,
    logger: createLogger({ name: 'test-speech', level: 'silent' }),
    realtimeSocketOptions: { ca: standins.realtimeTls.ca },
    ...extra,
  };
}
