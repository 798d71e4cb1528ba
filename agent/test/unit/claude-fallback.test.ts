import { initializeLogger, llm, type llm as llmTypes, type metrics } from '@livekit/agents';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
import { buildClaudeLLM, ClaudeFallbackLLM } from '../../src/llm/claude-fallback.ts';
import { ClaudeLLM } from '../../src/llm/claude-llm.ts';
import { UsageMeter } from '../../src/usage/usage-meter.ts';
import { standinAgentConfig } from './standin-agent-config.ts';

// CLAUDE_FALLBACK_MODEL through the framework's llm.FallbackAdapter, against the Anthropic stand-in (which answers
// 404 for a retired model, like the API, and injects 529 overloaded).

let standins: ProviderStandins;

beforeAll(async () => {
  // The framework's warnings are what these tests provoke (retries, refusals): asserted, not printed.
  initializeLogger({ pretty: false, level: 'silent' });
  // The Anthropic SDK prints a console warning for each request to a model on its deprecation list
  // (claude-opus-4-5 here); the agent's own calendar warns in its structured log instead.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  standins = await startProviderStandins();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await standins?.stop();
});
beforeEach(() => standins.reset());

function userCtx(text: string): llmTypes.ChatContext {
  const ctx = llm.ChatContext.empty();
  ctx.addMessage({ role: 'system', content: 'You are terse.' });
  ctx.addMessage({ role: 'user', content: text });
  return ctx;
}

/** The call's LLM with its metrics going to a usage meter, as the session wires them. */
function callLlm(env: Record<string, string>) {
  const config = standinAgentConfig(standins, env);
  const claude = buildClaudeLLM(config);
  const meter = new UsageMeter({ stt: config.deepgram.model, llm: config.anthropic.model });
  claude.on('metrics_collected', (m: metrics.AgentMetrics) => meter.onMetrics(m));
  return { claude, meter };
}

/** Waits (polling, bounded) for the background requests the adapter makes and the metrics that follow them. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50)); // the metrics event follows the stream's end
}

describe('Claude with a fallback model', () => {
  it('is plain ClaudeLLM without CLAUDE_FALLBACK_MODEL', () => {
    expect(buildClaudeLLM(standinAgentConfig(standins))).toBeInstanceOf(ClaudeLLM);
  });

  it('answers every turn from the fallback when the primary is retired (404), usage under the model that answered', async () => {
    // The calendar gives claude-opus-4-5 until 2027-01-22 (the agent starts, with a warning); the provider (the
    // stand-in, its clock set to that day) has retired it.
    const { claude, meter } = callLlm({
      CLAUDE_MODEL: 'claude-opus-4-5',
      CLAUDE_FALLBACK_MODEL: 'claude-haiku-4-5',
      AGENT_MODEL_CALENDAR_DATE: '2027-01-21',
    });
    standins.configure({ calendarDate: '2027-01-22', llmScript: ['First answer.', 'Second answer.'] });
    expect(claude).toBeInstanceOf(ClaudeFallbackLLM);
    const first = await claude.chat({ chatCtx: userCtx('One?') }).collect();
    const second = await claude.chat({ chatCtx: userCtx('Two?') }).collect();
    await until(() => meter.snapshot().llm.requests === 2);
    expect([first.text, second.text]).toEqual(['First answer.', 'Second answer.']);
    const asked = standins.recorded.llm.map((r) => [(r.body as { model: string }).model, r.status]);
    expect(asked.filter(([m]) => m === 'claude-haiku-4-5')).toEqual([
      ['claude-haiku-4-5', 200],
      ['claude-haiku-4-5', 200],
    ]);
    // The primary's 404 is not retried; after it the primary is skipped (one background re-check, also a 404).
    const primary = asked.filter(([m]) => m === 'claude-opus-4-5');
    expect(primary.every(([, status]) => status === 404)).toBe(true);
    expect(primary.length).toBeLessThanOrEqual(2);
    const usage = meter.snapshot().llm;
    expect(usage.model).toBe('claude-opus-4-5');
    expect(usage.models.map((m) => m.model)).toEqual(['claude-haiku-4-5']);
    const billed = standins.recorded.llm.filter((r) => r.status === 200);
    expect(usage.outputTokens).toBe(billed.reduce((n, r) => n + (r.usage?.output_tokens ?? 0), 0));
    expect(usage.requests).toBe(2);
    expect(usage.cost).toBeGreaterThan(0);
  });

  it('answers from the fallback when the primary is overloaded (529), and goes back once it answers', async () => {
    const { claude, meter } = callLlm({ CLAUDE_FALLBACK_MODEL: 'claude-sonnet-4-6' });
    standins.configure({
      llmFailures: [{ kind: 'overloaded' }],
      llmScript: (request) => `Answered by ${request.model}.`,
    });
    const reply = await claude.chat({ chatCtx: userCtx('Anyone there?') }).collect();
    expect(reply.text).toBe('Answered by claude-sonnet-4-6.');
    await until(() => standins.recorded.llm.filter((r) => r.status === 200).length === 2);
    const asked = standins.recorded.llm.map((r) => [(r.body as { model: string }).model, r.status]);
    expect(asked[0]).toEqual(['claude-haiku-4-5', 529]);
    // The fallback's answer, and the adapter's background re-check of the primary (which answers now).
    expect(asked.slice(1).sort()).toEqual([
      ['claude-haiku-4-5', 200],
      ['claude-sonnet-4-6', 200],
    ]);
    const next = await claude.chat({ chatCtx: userCtx('Still there?') }).collect();
    expect(next.text).toBe('Answered by claude-haiku-4-5.');
    await until(() => meter.snapshot().llm.requests === 3);
    // Each request that answered is billed to its own model, the background re-check included.
    const byModel = Object.fromEntries(meter.snapshot().llm.models.map((m) => [m.model, m.requests]));
    expect(byModel).toEqual({ 'claude-haiku-4-5': 2, 'claude-sonnet-4-6': 1 });
  });
});
