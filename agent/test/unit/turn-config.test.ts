import { inference, initializeLogger, normalizeLanguage } from '@livekit/agents';
import { ConfigError } from '@voice/core';
import { loadAgentConfig } from '@voice/core/config/agent';
import { describe, expect, it } from 'vitest';
import { interruptionOptions, turnDetection } from '../../src/pipeline/build-session.ts';
import { AGENT_ENV } from './agent-env.ts';

// Turn-taking variables, as the agent reads them at start-up, and the detector they select.
const BASE = AGENT_ENV;

// The detector warns about a threshold override through the framework's logger; the test provokes it on purpose.
initializeLogger({ pretty: false, level: 'silent' });

describe('turn-taking configuration', () => {
  it('defaults to the local end-of-turn model, 400/1600 ms endpointing and two-word barge-in that pauses first', async () => {
    const config = loadAgentConfig(BASE);
    expect(config.turns).toEqual({
      detection: 'model',
      eotThreshold: undefined,
      minEndpointingMs: 400,
      maxEndpointingMs: 1600,
      preemptive: 'model',
      interruptionMinWords: 2,
      interruptionMinDurationMs: 200,
      interruptionResumeAfterMs: 300,
    });
    expect(config.deepgram.endpointingMs).toBe(25);
    const detector = turnDetection(config);
    // The local model (never LiveKit Cloud's v1), which this machine and the image run offline.
    expect(detector).toBeInstanceOf(inference.TurnDetector);
    expect((detector as inference.TurnDetector).model).toBe('turn-detector-v1-mini');
    // LiveKit's calibration for English.
    expect(await (detector as inference.TurnDetector).unlikelyThreshold(normalizeLanguage('en'))).toBe(0.36);
  });

  it('pauses the reply on caller speech and resumes it after a backchannel, unless INTERRUPTION_RESUME_AFTER_MS=0', () => {
    expect(interruptionOptions(loadAgentConfig(BASE))).toEqual({
      enabled: true,
      mode: 'vad',
      minDuration: 200,
      minWords: 2,
      resumeFalseInterruption: true,
      falseInterruptionTimeout: 300,
    });
    expect(
      interruptionOptions(
        loadAgentConfig({
          ...BASE,
          INTERRUPTION_RESUME_AFTER_MS: '0',
          INTERRUPTION_MIN_DURATION_MS: '400',
        }),
      ),
    ).toEqual({
      enabled: true,
      mode: 'vad',
      minDuration: 400,
      minWords: 2,
      resumeFalseInterruption: false,
    });
  });

  it('takes an end-of-turn threshold override for every language', async () => {
    const config = loadAgentConfig({ ...BASE, TURN_EOT_THRESHOLD: '0.2' });
    const detector = turnDetection(config) as inference.TurnDetector;
    expect(await detector.unlikelyThreshold(normalizeLanguage('en'))).toBe(0.2);
    expect(await detector.unlikelyThreshold(normalizeLanguage('de'))).toBe(0.2);
  });

  it('selects plain VAD turn detection, and never lets the maximum delay undercut the minimum', () => {
    const config = loadAgentConfig({
      ...BASE,
      TURN_DETECTION: 'vad',
      TURN_MIN_ENDPOINTING_MS: '700',
      TURN_MAX_ENDPOINTING_MS: '500',
      STT_ENDPOINTING_MS: '0',
    });
    expect(turnDetection(config)).toBe('vad');
    expect(config.turns).toMatchObject({ minEndpointingMs: 700, maxEndpointingMs: 700 });
    expect(config.deepgram.endpointingMs).toBe(0);
  });

  it('rejects an unknown turn detection mode by name', () => {
    let problems: Array<{ variable: string }> = [];
    try {
      loadAgentConfig({ ...BASE, TURN_DETECTION: 'cloud' });
    } catch (error) {
      if (error instanceof ConfigError) problems = [...error.problems];
    }
    expect(problems.map((p) => p.variable)).toEqual(['TURN_DETECTION']);
  });
});
