import { randomUUID } from 'node:crypto';
import { llmCost, realtimeSpeechCost, sttCost, ttsCost } from '@voice/core/pricing';
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

// Speech failover over the real pieces (livekit-server, the agent worker process, a WebRTC caller): the default
// TTS_PROVIDERS (the OpenAI Realtime API, then Deepgram Aura). The Realtime API starts failing in the middle of
// the call: the caller keeps hearing every answer (from Deepgram), no turn is silent, both engines' usage is
// recorded and priced; once the Realtime API answers again, it speaks again.
const stack = testStack();
const AGENT = `voice-agent-failover-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';
const QUESTIONS = [
  'What is the capital of France?',
  'Tell me a short story about a friendly dragon who loves to bake bread.',
  'And what do dragons like to drink with their bread in the morning before they fly out over the mountains?',
];
const ANSWERS = [
  'Paris is the capital of France.',
  'Once upon a time a friendly dragon baked warm bread for the whole village.',
  'Dragons drink hot cocoa with their bread.',
];

let standins: ProviderStandins;
let tokens: E2eTokenService;
let worker: RunningAgentWorker;

beforeAll(async () => {
  standins = await startProviderStandins();
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT });
  worker = await startAgentWorker(stack, standins, {
    agentName: AGENT,
    env: {
      AGENT_GREETING: GREETING,
      // Recovery checks every 2 s, so the test sees the Realtime engine come back within a turn or two.
      TTS_RECOVERY_INTERVAL_SECONDS: '2',
    },
  });
});
afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await standins?.stop();
});

describe('speech failover in a call', () => {
  it('the Realtime API fails mid-call: Deepgram speaks the next answer, then the Realtime API takes over again', async () => {
    const { clips } = await prepareDialogue(standins, QUESTIONS, ANSWERS);
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, {});
    const caller = new ScriptedCaller();
    const joinedAt = Date.now();
    await caller.join(grant.server_url, grant.participant_token);
    const heard: number[] = [];
    try {
      await caller.waitForSpeech(joinedAt, 30_000); // the greeting (Realtime API)
      await caller.waitForQuiet(1_000);
      const [first, second, third] = clips as [(typeof clips)[0], (typeof clips)[0], (typeof clips)[0]];

      // A heard segment's end moves while the agent speaks: its length is read once the agent is quiet again.
      let asked = await caller.speak(first);
      let answer = await caller.waitForSpeech(asked, 20_000);
      await caller.waitForQuiet(1_000);
      heard.push(answer.lastLoudAt - answer.startedAt);

      // From now on every Realtime response fails.
      standins.configure({ realtimeOutage: { kind: 'failed' } });
      asked = await caller.speak(second);
      answer = await caller.waitForSpeech(asked, 20_000);
      await caller.waitForQuiet(1_000);
      heard.push(answer.lastLoudAt - answer.startedAt);

      // The Realtime API answers again; its recovery check passes within a few seconds.
      standins.configure({ realtimeOutage: null });
      await waitFor('the Realtime engine to recover', async () =>
        /speech engine recovered/.test(worker.log()) ? true : undefined,
      );
      asked = await caller.speak(third);
      answer = await caller.waitForSpeech(asked, 20_000);
      await caller.waitForQuiet(1_000);
      heard.push(answer.lastLoudAt - answer.startedAt);
      report(`[speech-failover] answers heard for ${heard.map((ms) => `${ms} ms`).join(', ')}`);
    } finally {
      await caller.hangUp();
    }

    // No silent turn: every answer was heard (each is 2 s or more of speech; a second at least came through) and
    // saved, in order.
    for (const ms of heard) expect(ms).toBeGreaterThan(1_000);
    await endedSession(stack, grant.session_id);
    const messages = await waitFor('all turns', async () => {
      const m = await conversationMessages(stack, grant.conversation_id);
      return m.length >= 7 ? m : undefined;
    });
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['assistant', GREETING],
      ['user', QUESTIONS[0]],
      ['assistant', ANSWERS[0]],
      ['user', QUESTIONS[1]],
      ['assistant', ANSWERS[1]],
      ['user', QUESTIONS[2]],
      ['assistant', ANSWERS[2]],
    ]);
    // Which engine spoke which answer.
    const engines = messages
      .filter((m) => m.role === 'assistant')
      .map((m) => (m.metadata.speech as { engines?: string[] } | undefined)?.engines);
    expect(engines).toEqual([['openai-realtime'], ['openai-realtime'], ['deepgram'], ['openai-realtime']]);
    expect(standins.recorded.speak.flatMap((c) => c.texts).join('')).toContain(ANSWERS[1]);

    // Both engines' usage, as each provider billed it, priced by the table (within 1 %).
    const usage = await waitFor('the final usage row', async () => {
      const { data } = await serviceClient(stack).from('usage_logs').select('*').eq('user_id', user.id);
      return data?.[0]?.metadata?.final === true ? data[0] : undefined;
    });
    const meta = usage.metadata;
    const realtime = meta.tts.engines.find((e: { provider: string }) => e.provider === 'openai-realtime');
    const deepgram = meta.tts.engines.find((e: { provider: string }) => e.provider === 'deepgram');
    const responses = standins.recorded.realtime.flatMap((c) => c.responses).filter((r) => r.usage);
    const realtimeSeen = {
      textInputTokens: responses.reduce((n, r) => n + (r.usage?.input_token_details?.text_tokens ?? 0), 0),
      cachedTextInputTokens: 0,
      audioInputTokens: 0,
      textOutputTokens: responses.reduce((n, r) => n + (r.usage?.output_token_details?.text_tokens ?? 0), 0),
      audioOutputTokens: responses.reduce(
        (n, r) => n + (r.usage?.output_token_details?.audio_tokens ?? 0),
        0,
      ),
    };
    // Deepgram bills the characters of the speech it produced (a stream that failed before audio bills nothing).
    const deepgramSeen = standins.recorded.speak
      .filter((c) => c.audioSeconds > 0)
      .reduce((n, c) => n + c.characters, 0);
    report(`[speech-failover] usage ${JSON.stringify(meta.tts.engines)}`);
    expect(realtime).toMatchObject({
      requests: responses.length,
      text_input_tokens: realtimeSeen.textInputTokens,
      audio_output_tokens: realtimeSeen.audioOutputTokens,
    });
    expect(deepgram).toMatchObject({ model: 'aura-2-thalia-en', characters: deepgramSeen });
    const expected =
      (sttCost(meta.stt.model, meta.stt.audio_seconds) ?? 0) +
      (llmCost(meta.llm.model, {
        inputTokens: meta.llm.input_tokens,
        outputTokens: meta.llm.output_tokens,
        cacheReadTokens: meta.llm.cache_read_tokens,
        cacheCreationTokens: meta.llm.cache_creation_tokens,
      }) ?? 0) +
      (realtimeSpeechCost('gpt-realtime-2.1-mini', realtimeSeen) ?? Number.NaN) +
      (ttsCost('aura-2-thalia-en', deepgramSeen) ?? Number.NaN);
    expect(Math.abs(Number(usage.estimated_cost) - expected)).toBeLessThanOrEqual(expected * 0.01);

    // The failover and the recovery reached the worker's metrics; the session never saw a speech error.
    const metrics = await (await fetch(worker.metricsUrl)).text();
    expect(metrics).toMatch(
      /voice_agent_speech_engine_changes_total\{engine="openai-realtime",available="false"\} 1/,
    );
    expect(metrics).toMatch(
      /voice_agent_speech_engine_changes_total\{engine="openai-realtime",available="true"\} 1/,
    );
    expect(metrics).not.toMatch(/voice_agent_provider_errors_total\{provider="tts"/);
  }, 180_000);
});
