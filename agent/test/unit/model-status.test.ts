import { createLogger } from '@voice/core';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { startMetricsServer } from '../../src/metrics/metrics-server.ts';
import { AgentMetrics } from '../../src/metrics/prometheus.ts';
import { ModelStatus } from '../../src/models/model-status.ts';
import { providerModelProbe } from '../../src/models/provider-models.ts';
import { standinAgentConfig } from './standin-agent-config.ts';

// The worker's model check: the calendar for today and what the providers (the stand-ins, which answer the Models
// endpoints like the real APIs) say, as /readyz, the job admission and the shutdown gauge see it.

let standins: ProviderStandins;
const logger = createLogger({ name: 'test-models', level: 'silent' });

beforeAll(async () => {
  standins = await startProviderStandins();
});
afterAll(() => standins?.stop());
beforeEach(() => standins.reset());

/** The stand-ins' Realtime endpoint has its own certificate: trusted for this fetch only. */
function trustingFetch(): typeof globalThis.fetch {
  const dispatcher = new Agent({ connect: { ca: standins.realtimeTls.ca } });
  return ((url: string, init?: object) => undiciFetch(url, { ...init, dispatcher })) as never;
}

function status(env: Record<string, string>, today?: () => string) {
  const config = standinAgentConfig(standins, env);
  const days = new Map<string, number>();
  const models = new ModelStatus({
    config,
    logger,
    probe: providerModelProbe(config, trustingFetch()),
    onShutdownDays: (model, role, d) => days.set(`${role}:${model}`, d),
    ...(today ? { today } : {}),
  });
  return { models, days };
}

describe('model status', () => {
  it('is ready when every model exists at its provider, with no shutdown ahead', async () => {
    const { models } = status({ TTS_PROVIDERS: 'openai-realtime,deepgram' });
    await models.refresh();
    const r = models.readiness();
    expect(r).toMatchObject({ ready: true, degraded: false, reasons: [] });
    expect(r.models.map((m) => [m.variable, m.provider])).toEqual([
      ['STT_MODEL', 'unverified'],
      ['CLAUDE_MODEL', 'exists'],
      ['OPENAI_REALTIME_MODEL', 'exists'],
      ['DEEPGRAM_TTS_MODEL', 'unverified'],
    ]);
  });

  it('takes no calls while the provider says CLAUDE_MODEL does not exist, and says why', async () => {
    // The calendar still gives claude-opus-4-5 a day; the provider has retired it already.
    standins.configure({ calendarDate: '2027-01-22' });
    const { models, days } = status({
      CLAUDE_MODEL: 'claude-opus-4-5',
      AGENT_MODEL_CALENDAR_DATE: '2027-01-21',
    });
    await models.refresh();
    const r = models.readiness();
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([
      expect.stringMatching(/^CLAUDE_MODEL=claude-opus-4-5: the provider says this model does not exist/),
    ]);
    expect(r.models.find((m) => m.variable === 'CLAUDE_MODEL')).toMatchObject({
      calendar: 'warn',
      daysLeft: 1,
      provider: 'missing',
    });
    expect(days.get('llm:claude-opus-4-5')).toBe(1);
  });

  it('takes calls, degraded, when CLAUDE_FALLBACK_MODEL stands in for a missing CLAUDE_MODEL', async () => {
    standins.configure({ calendarDate: '2027-01-22' });
    const { models } = status({
      CLAUDE_MODEL: 'claude-opus-4-5',
      CLAUDE_FALLBACK_MODEL: 'claude-haiku-4-5',
      AGENT_MODEL_CALENDAR_DATE: '2027-01-21',
    });
    await models.refresh();
    expect(models.readiness()).toMatchObject({ ready: true, degraded: true, reasons: [] });
  });

  it('stops taking calls when a model reaches its shutdown date while the worker runs', async () => {
    let today = '2027-01-05';
    const { models, days } = status(
      { TTS_PROVIDERS: 'openai-speech', AGENT_MODEL_CHECK: 'off' },
      () => today,
    );
    await models.refresh();
    expect(models.readiness()).toMatchObject({ ready: true, degraded: true });
    expect(days.get('openai-speech:tts-1')).toBe(1);
    today = '2027-01-06';
    await models.refresh();
    const r = models.readiness();
    expect(r.ready).toBe(false);
    expect(r.reasons[0]).toMatch(
      /TTS_MODEL=tts-1: openai shut this model down on 2027-01-06.*gpt-realtime-2\.1-mini/,
    );
    expect(days.get('openai-speech:tts-1')).toBe(0);
    // AGENT_MODEL_CHECK=off: the calendar only, no provider asked.
    expect(r.models.every((m) => m.provider === 'not_checked')).toBe(true);
  });

  it('a missing speech model with another engine listed only degrades (the next engine speaks)', async () => {
    // OpenAI (the stand-in's clock) has shut tts-1 down; the calendar date here is the day before.
    standins.configure({ calendarDate: '2027-01-06' });
    const env = { AGENT_MODEL_CALENDAR_DATE: '2027-01-05' };
    const alone = status({ ...env, TTS_PROVIDERS: 'openai-speech' }).models;
    await alone.refresh();
    expect(alone.readiness()).toMatchObject({
      ready: false,
      reasons: [expect.stringMatching(/^TTS_MODEL=tts-1/)],
    });
    const withDeepgram = status({ ...env, TTS_PROVIDERS: 'openai-speech,deepgram' }).models;
    await withDeepgram.refresh();
    expect(withDeepgram.readiness()).toMatchObject({ ready: true, degraded: true });
  });

  it('serves the standing on /readyz (503 with the reasons) and the days left on /metrics', async () => {
    standins.configure({ calendarDate: '2027-01-22' });
    const config = standinAgentConfig(standins, {
      CLAUDE_MODEL: 'claude-opus-4-5',
      AGENT_MODEL_CALENDAR_DATE: '2027-01-21',
    });
    const metrics = new AgentMetrics();
    const models = new ModelStatus({
      config,
      logger,
      probe: providerModelProbe(config, trustingFetch()),
      onShutdownDays: (model, role, d) => metrics.modelShutdownDays(model, role, d),
    });
    await models.refresh();
    const server = await startMetricsServer({
      metrics,
      host: '127.0.0.1',
      port: 0,
      logger,
      readiness: () => ({ ...models.readiness() }),
    });
    try {
      const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { status: string; reasons: string[]; models: unknown[] };
      expect(body.status).toBe('unavailable');
      expect(body.reasons[0]).toMatch(/CLAUDE_MODEL=claude-opus-4-5/);
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(text).toMatch(/voice_agent_model_shutdown_days\{model="claude-opus-4-5",role="llm"\} 1/);
    } finally {
      await server.close();
    }
  });
});
