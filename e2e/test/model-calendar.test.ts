import { randomUUID } from 'node:crypto';
import { llmCost } from '@voice/core/pricing';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import {
  conversationMessages,
  endedSession,
  prepareDialogue,
  report,
  waitFor,
} from '../src/call-scenario.ts';
import { ScriptedCaller } from '../src/scripted-caller.ts';
import { type E2eTokenService, startTokenService } from '../src/token-service.ts';

// The providers' calendar over the real pieces (livekit-server, the agent worker process, a WebRTC caller, the
// stand-ins, whose clock is set). The worker's calendar date is 2027-01-21: claude-opus-4-5 has one day left (it
// starts, and warns); the provider (the Anthropic stand-in, its clock at 2027-01-22) has retired it already and
// answers 404, so CLAUDE_FALLBACK_MODEL answers every question. A worker whose calendar date is past a configured
// model's shutdown refuses to start, saying what to set instead.
const stack = testStack();
const AGENT = `voice-agent-calendar-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';
const QUESTIONS = [
  'What is the capital of France?',
  'Tell me a short story about a friendly dragon who bakes bread.',
];
const ANSWERS = [
  'Paris is the capital of France.',
  'Once upon a time a friendly dragon baked warm bread for the whole village.',
];
const RETIRED = 'claude-opus-4-5';
const FALLBACK = 'claude-haiku-4-5';

let standins: ProviderStandins;
let tokens: E2eTokenService;
let worker: RunningAgentWorker;

beforeAll(async () => {
  standins = await startProviderStandins();
  standins.configure({ calendarDate: '2027-01-22' });
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT });
  worker = await startAgentWorker(stack, standins, {
    agentName: AGENT,
    env: {
      AGENT_GREETING: GREETING,
      CLAUDE_MODEL: RETIRED,
      CLAUDE_FALLBACK_MODEL: FALLBACK,
      AGENT_MODEL_CALENDAR_DATE: '2027-01-21',
    },
  });
});
afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await standins?.stop();
});

describe("the providers' calendar", () => {
  it('a model within 60 days of its shutdown warns: log, /readyz detail, days-left gauge', async () => {
    expect(worker.log()).toMatch(
      /CLAUDE_MODEL=claude-opus-4-5: anthropic shuts this model down on 2027-01-22, in 1 day/,
    );
    const readyz = await fetch(worker.metricsUrl.replace(/\/metrics$/, '/readyz'));
    // The provider says the model does not exist, and the fallback stands in: the worker takes calls, degraded.
    expect(readyz.status).toBe(200);
    const body = (await readyz.json()) as {
      status: string;
      degraded: boolean;
      models: Array<Record<string, unknown>>;
    };
    expect(body).toMatchObject({ status: 'ready', degraded: true, calendarDate: '2027-01-21' });
    expect(body.models.find((m) => m.variable === 'CLAUDE_MODEL')).toMatchObject({
      model: RETIRED,
      calendar: 'warn',
      daysLeft: 1,
      shutdown: '2027-01-22',
      provider: 'missing',
    });
    expect(body.models.find((m) => m.variable === 'CLAUDE_FALLBACK_MODEL')).toMatchObject({
      provider: 'exists',
    });
    const metrics = await (await fetch(worker.metricsUrl)).text();
    expect(metrics).toMatch(/voice_agent_model_shutdown_days\{model="claude-opus-4-5",role="llm"\} 1/);
  });

  it('a retired CLAUDE_MODEL (404) with CLAUDE_FALLBACK_MODEL: every question answered, usage for the fallback', async () => {
    const { clips } = await prepareDialogue(standins, QUESTIONS, ANSWERS);
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, {});
    const caller = new ScriptedCaller();
    const joinedAt = Date.now();
    await caller.join(grant.server_url, grant.participant_token);
    const heard: number[] = [];
    try {
      await caller.waitForSpeech(joinedAt, 30_000); // the greeting (no Claude request)
      await caller.waitForQuiet(1_000);
      for (const clip of clips) {
        const asked = await caller.speak(clip);
        const answer = await caller.waitForSpeech(asked, 20_000);
        await caller.waitForQuiet(1_000);
        heard.push(answer.lastLoudAt - answer.startedAt);
      }
      report(`[model-calendar] answers heard for ${heard.map((ms) => `${ms} ms`).join(', ')}`);
    } finally {
      await caller.hangUp();
    }
    for (const ms of heard) expect(ms).toBeGreaterThan(1_000);
    await endedSession(stack, grant.session_id);
    const messages = await waitFor('all turns', async () => {
      const m = await conversationMessages(stack, grant.conversation_id);
      return m.length >= 5 ? m : undefined;
    });
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['assistant', GREETING],
      ['user', QUESTIONS[0]],
      ['assistant', ANSWERS[0]],
      ['user', QUESTIONS[1]],
      ['assistant', ANSWERS[1]],
    ]);

    // What reached Anthropic: the retired model's 404s, and the fallback's answers.
    const byModel = (model: string) =>
      standins.recorded.llm.filter((r) => (r.body as { model?: string } | undefined)?.model === model);
    expect(byModel(RETIRED).length).toBeGreaterThanOrEqual(1);
    expect(byModel(RETIRED).every((r) => r.status === 404 && r.error === 'not_found_error')).toBe(true);
    const answered = byModel(FALLBACK).filter((r) => r.status === 200 && r.usage);
    expect(answered.length).toBeGreaterThanOrEqual(2);

    // Usage: the fallback model's tokens, priced at its rates; nothing for the model that answered 404.
    const usage = await waitFor('the final usage row', async () => {
      const { data } = await serviceClient(stack).from('usage_logs').select('*').eq('user_id', user.id);
      return data?.[0]?.metadata?.final === true ? data[0] : undefined;
    });
    const llmMeta = usage.metadata.llm as {
      model: string;
      output_tokens: number;
      cost: number;
      models: Array<{
        model: string;
        input_tokens: number;
        output_tokens: number;
        cache_read_tokens: number;
        cache_creation_tokens: number;
        cost: number;
      }>;
    };
    report(`[model-calendar] llm usage ${JSON.stringify(llmMeta)}`);
    expect(llmMeta.model).toBe(RETIRED);
    expect(llmMeta.models.map((m) => m.model)).toEqual([FALLBACK]);
    const fallback = llmMeta.models[0]!;
    const outSeen = answered.reduce((n, r) => n + (r.usage?.output_tokens ?? 0), 0);
    // A cancelled preemptive request may lack its final count (as in agent-call).
    expect(fallback.output_tokens).toBeLessThanOrEqual(outSeen);
    expect(fallback.output_tokens).toBeGreaterThan(0);
    const expected = llmCost(FALLBACK, {
      inputTokens: fallback.input_tokens,
      outputTokens: fallback.output_tokens,
      cacheReadTokens: fallback.cache_read_tokens,
      cacheCreationTokens: fallback.cache_creation_tokens,
    });
    expect(fallback.cost).toBeCloseTo(expected ?? Number.NaN, 6);
    expect(llmMeta.cost).toBeCloseTo(fallback.cost, 6);
    expect(usage.metadata.unpriced).toEqual([]);
  }, 180_000);

  it('a model past its shutdown date (the clock set) refuses to start, saying what to set instead', async () => {
    const failed = await startAgentWorker(stack, standins, {
      agentName: `${AGENT}-past`,
      env: {
        CLAUDE_MODEL: RETIRED,
        TTS_PROVIDERS: 'openai-speech,deepgram',
        AGENT_MODEL_CALENDAR_DATE: '2027-01-22',
      },
      readyTimeoutMs: 60_000,
    }).then(
      async (started) => {
        await started.stop();
        return undefined;
      },
      (error: unknown) => String(error),
    );
    expect(failed).toMatch(/agent worker exited during start-up/);
    expect(failed).toMatch(
      /CLAUDE_MODEL: CLAUDE_MODEL=claude-opus-4-5: anthropic shut this model down on 2027-01-22 .*set CLAUDE_MODEL=claude-opus-5-5 instead/,
    );
    expect(failed).toMatch(
      /TTS_MODEL: TTS_MODEL=tts-1: openai shut this model down on 2027-01-06 .*set TTS_MODEL=gpt-realtime-2\.1-mini instead/,
    );
  }, 90_000);
});
