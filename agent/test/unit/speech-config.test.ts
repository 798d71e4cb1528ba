import { loadAgentConfig } from '@voice/core/config/agent';
import { describe, expect, it } from 'vitest';
import { AGENT_BASE_ENV, agentConfigProblems } from './agent-env.ts';

// TTS_PROVIDERS and the speech variables, as the agent reads them at start-up.
const BASE = AGENT_BASE_ENV;

function problems(env: Record<string, string>): Array<{ variable: string; message: string }> {
  return agentConfigProblems({ ...BASE, ...env });
}

describe('speech configuration', () => {
  it('defaults to the Realtime API, then Deepgram (what works after 2027-01-06)', () => {
    const config = loadAgentConfig({ ...BASE, OPENAI_API_KEY: 'k' });
    expect(config.speech).toMatchObject({
      providers: ['openai-realtime', 'deepgram'],
      deepgramModel: 'aura-2-thalia-en',
      firstAudioTimeoutMs: 2500,
      recoveryIntervalMs: 10_000,
    });
    expect(config.openai).toMatchObject({ realtimeModel: 'gpt-realtime-2.1-mini', realtimeVoice: 'marin' });
  });

  it('the Realtime base URL falls back to OPENAI_BASE_URL', () => {
    const config = loadAgentConfig({
      ...BASE,
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: 'https://proxy.example/v1',
    });
    expect(config.openai.realtimeBaseUrl).toBe('https://proxy.example/v1');
  });

  it('refuses unknown or repeated engines, naming the variable', () => {
    expect(problems({ OPENAI_API_KEY: 'k', TTS_PROVIDERS: 'openai-realtime,elevenlabs' })[0]?.variable).toBe(
      'TTS_PROVIDERS',
    );
    expect(problems({ OPENAI_API_KEY: 'k', TTS_PROVIDERS: 'deepgram,deepgram' })).toEqual([
      { variable: 'TTS_PROVIDERS', message: 'names an engine twice' },
    ]);
  });

  it('needs OPENAI_API_KEY only when an OpenAI engine is listed', () => {
    expect(problems({ TTS_PROVIDERS: 'deepgram' })).toEqual([]);
    expect(problems({ TTS_PROVIDERS: 'deepgram,openai-realtime' })[0]?.variable).toBe('OPENAI_API_KEY');
  });

  it('refuses a Deepgram speech model that is not an Aura voice', () => {
    expect(problems({ OPENAI_API_KEY: 'k', DEEPGRAM_TTS_MODEL: 'nova-3' })[0]?.variable).toBe(
      'DEEPGRAM_TTS_MODEL',
    );
  });
});
