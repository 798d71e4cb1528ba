import { randomUUID } from 'node:crypto';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PHRASES } from '../../agent/src/session/phrases.ts';
import { sleep } from '../src/agent-speech.ts';
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

// How a call behaves when things go wrong, over the same real pieces as agent-call.test.ts: barge-in, the
// database down mid-call, Claude overloaded, the maximum call length, and a killed agent.
const stack = testStack();
const AGENT = `voice-agent-fail-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';
const MAX_CALL_SECONDS = 20;

let standins: ProviderStandins;
let tokens: E2eTokenService;
let shortCalls: E2eTokenService;
let worker: RunningAgentWorker;

beforeAll(async () => {
  standins = await startProviderStandins();
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT });
  shortCalls = await startTokenService(stack, {
    AGENT_NAME: AGENT,
    VOICE_MAX_CALL_SECONDS: String(MAX_CALL_SECONDS),
  });
  worker = await startAgentWorker(stack, standins, {
    agentName: AGENT,
    env: { AGENT_GREETING: GREETING, AGENT_GOODBYE_LEAD_SECONDS: '6' },
  });
});
afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await shortCalls?.close();
  await standins?.stop();
});
beforeEach(() => standins.reset());

async function startCall(service: E2eTokenService = tokens) {
  const user = await createTestUser(stack, { tier: 'studio' });
  const grant = await service.issue(user.accessToken, {});
  const caller = new ScriptedCaller();
  const joinedAt = Date.now();
  await caller.join(grant.server_url, grant.participant_token);
  await caller.waitForSpeech(joinedAt, 60_000); // the greeting
  await caller.waitForQuiet(1_000);
  return { user, grant, caller };
}

describe('when things go wrong during a call', () => {
  it('barge-in: the caller talks over a long answer, playback stops, the partial answer is saved as interrupted', async () => {
    const long =
      'Let me tell you the whole history of bread. People have baked bread for many thousands of years, first as flat ' +
      'cakes of ground grain and water on hot stones, then as leavened loaves in clay ovens, and later in great ' +
      'bakeries that fed entire cities every single morning before sunrise.';
    const dialogue = await prepareDialogue(
      standins,
      ['Tell me about bread.', 'Stop what is the best flour for pizza dough?'],
      [long, 'Tipo double zero flour.'],
    );
    const { grant, caller } = await startCall();
    try {
      const [ask, interrupt] = dialogue.clips as [(typeof dialogue.clips)[0], (typeof dialogue.clips)[0]];
      const askedAt = await caller.speak(ask);
      const answer = await caller.waitForSpeech(askedAt, 30_000);
      await sleep(1_500);
      const interruptStartedAt = Date.now();
      const secondAsked = await caller.speak(interrupt);
      // The long answer (~15 s of speech) stopped soon after the caller started talking.
      const stoppedAfter = answer.lastLoudAt - interruptStartedAt;
      report(
        `[agent-failures] barge-in: agent audio stopped ${stoppedAfter} ms after the caller started speaking`,
      );
      expect(answer.lastLoudAt - answer.startedAt).toBeLessThan(10_000);
      await caller.waitForSpeech(secondAsked, 30_000);
      await caller.waitForQuiet(1_000);
    } finally {
      await caller.hangUp();
    }
    await endedSession(stack, grant.session_id);
    const messages = await waitFor('5 messages', async () => {
      const m = await conversationMessages(stack, grant.conversation_id);
      return m.length >= 5 ? m : undefined;
    });
    const interrupted = messages.find((m) => m.role === 'assistant' && m.metadata.interrupted === true);
    expect(interrupted).toBeDefined();
    expect(interrupted?.content.length).toBeLessThan(long.length);
    expect(long.startsWith(interrupted?.content.slice(0, 20) ?? 'x')).toBe(true);
    expect(messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(messages.at(-1)?.content).toBe('Tipo double zero flour.');
  }, 180_000);

  it('database down for 10 s mid-call: the call goes on and no turn is missing or duplicated', async () => {
    const dialogue = await prepareDialogue(
      standins,
      [
        'What is the capital of France?',
        'Tell me a short story about a friendly dragon who loves to bake bread.',
      ],
      [
        'Paris is the capital of France.',
        'Once upon a time a friendly dragon baked warm bread for the whole village.',
      ],
    );
    const { user, grant, caller } = await startCall();
    const db = serviceClient(stack);
    let stoppedAt = 0;
    try {
      const stop = await fetch(`${stack.controlUrl}/postgres/stop`, { method: 'POST' });
      expect(stop.status).toBe(200);
      stoppedAt = Date.now();
      for (const clip of dialogue.clips) {
        const asked = await caller.speak(clip);
        await caller.waitForSpeech(asked, 30_000); // answered while the database is down
        await caller.waitForQuiet(1_000);
      }
      const downFor = Date.now() - stoppedAt;
      if (downFor < 10_000) await sleep(10_000 - downFor);
    } finally {
      const start = await fetch(`${stack.controlUrl}/postgres/start`, { method: 'POST' });
      expect(start.status).toBe(200);
      report(`[agent-failures] database was down for ${Date.now() - stoppedAt} ms during the call`);
      await caller.hangUp();
    }
    await endedSession(stack, grant.session_id, 120_000);
    const messages = await waitFor(
      'all turns',
      async () => {
        const m = await conversationMessages(stack, grant.conversation_id);
        return m.length >= 5 ? m : undefined;
      },
      90_000,
    );
    // Every turn exactly once, in order. (What the Deepgram stand-in hears can split an utterance when this busy
    // host stutters the caller's audio, so the texts are checked against what the stand-ins said they produced.)
    expect(messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(messages[0]?.content).toBe(GREETING);
    const replies = new Set(standins.recorded.llm.map((r) => r.replyText));
    for (const m of messages.slice(1)) {
      if (m.role === 'assistant') expect(replies).toContain(m.content);
      else expect(m.content.length).toBeGreaterThan(0);
    }
    if (messages[1]?.content === dialogue.questions[0])
      expect(messages[2]?.content).toBe(dialogue.answers[0]);
    expect(new Set(messages.map((m) => m.id)).size).toBe(5);
    const { data: usage } = await db.from('usage_logs').select('id, metadata').eq('user_id', user.id);
    expect(usage).toHaveLength(1);
    expect(usage?.[0]?.metadata?.final).toBe(true);
  }, 240_000);

  it('Claude overloaded (529) past its retries: the caller hears an apology and the next turn works', async () => {
    // The STT stand-in tells questions apart by how long they are spoken: these differ by ~0.7 s. "What is the
    // capital of Italy?" (1.40 s) was 140 ms from France (1.54 s), and a loaded machine's timing jitter sometimes
    // matched the wrong one. No commas in spoken questions: espeak-ng pauses ~300 ms at one, and the Deepgram
    // stand-in, like Deepgram, ends an utterance there.
    const dialogue = await prepareDialogue(
      standins,
      ['What is the capital of France?', 'And which city is the capital of Italy please?'],
      ['Paris.', 'Rome is the capital of Italy.'],
    );
    const { grant, caller } = await startCall();
    try {
      // The framework tries three times (maxRetry 2); all three are overloaded.
      standins.configure({
        llmFailures: [{ kind: 'overloaded' }, { kind: 'overloaded' }, { kind: 'overloaded' }],
      });
      const [first, second] = dialogue.clips as [(typeof dialogue.clips)[0], (typeof dialogue.clips)[0]];
      const asked = await caller.speak(first);
      await caller.waitForSpeech(asked, 30_000); // the apology
      // Its two sentences may come with a gap on a loaded machine: talking after 1 s of quiet cut it short (and the
      // row then holds only what was heard).
      await caller.waitForQuiet(2_000);
      const askedAgain = await caller.speak(second);
      await caller.waitForSpeech(askedAgain, 30_000);
      await caller.waitForQuiet(1_000);
    } finally {
      await caller.hangUp();
    }
    await endedSession(stack, grant.session_id);
    const messages = await waitFor('5 messages', async () => {
      const m = await conversationMessages(stack, grant.conversation_id);
      return m.length >= 5 ? m : undefined;
    });
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['assistant', GREETING],
      ['user', dialogue.questions[0]],
      ['assistant', PHRASES.apology],
      ['user', dialogue.questions[1]],
      ['assistant', dialogue.answers[1]],
    ]);
    expect(standins.recorded.llm.filter((r) => r.error === 'overloaded_error')).toHaveLength(3);
  }, 180_000);

  it('maximum call length: a spoken goodbye shortly before, then the room closes and the session ends', async () => {
    await prepareDialogue(standins, [], []);
    const { grant, caller } = await startCall(shortCalls);
    let disconnectedAt = 0;
    caller.room.on('disconnected', () => {
      disconnectedAt = Date.now();
    });
    try {
      // Silence until the agent says goodbye on its own.
      const goodbye = await caller.waitForSpeech(Date.now(), MAX_CALL_SECONDS * 1000 + 10_000);
      await waitFor('the room to close', async () => (disconnectedAt ? true : undefined), 30_000);
      report(`[agent-failures] goodbye heard, room closed ${disconnectedAt - goodbye.startedAt} ms later`);
    } finally {
      await caller.hangUp();
    }
    const session = await endedSession(stack, grant.session_id);
    expect(session.end_reason).toBe('max_duration');
    expect(Number(session.duration_seconds)).toBeLessThanOrEqual(MAX_CALL_SECONDS + 5);
    const messages = await conversationMessages(stack, grant.conversation_id);
    expect(messages.map((m) => m.content)).toContain(PHRASES.goodbyeMaxDuration);
  }, 180_000);

  describe('on a worker with a short lease and idle timeout', () => {
    const name = `voice-agent-short-${randomUUID().slice(0, 8)}`;
    let short: RunningAgentWorker;
    let oneSlot: E2eTokenService;
    beforeAll(async () => {
      short = await startAgentWorker(stack, standins, {
        agentName: name,
        env: { AGENT_GREETING: GREETING, AGENT_LEASE_SECONDS: '6', AGENT_IDLE_TIMEOUT_SECONDS: '4' },
      });
      oneSlot = await startTokenService(stack, { AGENT_NAME: name, VOICE_MAX_CONCURRENT_SESSIONS: '1' });
    });
    afterAll(async () => {
      await oneSlot?.close();
      await short?.stop().catch(() => undefined);
    });

    it('a silent caller is asked if they are still there, then the call ends as idle', async () => {
      await prepareDialogue(standins, [], []);
      const { grant, caller } = await startCall(oneSlot);
      try {
        const prompt = await caller.waitForSpeech(Date.now(), 30_000);
        await caller.waitForQuiet(800);
        await caller.waitForSpeech(prompt.lastLoudAt + 500, 30_000); // the goodbye
      } finally {
        await caller.hangUp();
      }
      const session = await endedSession(stack, grant.session_id);
      expect(session.end_reason).toBe('idle');
      const messages = await conversationMessages(stack, grant.conversation_id);
      expect(messages.map((m) => m.content)).toEqual([GREETING, PHRASES.idlePrompt, PHRASES.idleGoodbye]);
    }, 120_000);

    it('the agent process is killed mid-call: the slot frees when its lease runs out', async () => {
      const { user, grant, caller } = await startCall(oneSlot);
      // While the call lives, the user's one slot is taken.
      await expect(oneSlot.issue(user.accessToken, {})).rejects.toThrow(/SESSION_LIMIT/);
      short.kill();
      const killedAt = Date.now();
      await caller.hangUp();
      // No agent is left to end the session; its lease (6 s) runs out and the slot is free again.
      const again = await waitFor(
        'a free slot',
        async () => oneSlot.issue(user.accessToken, {}).catch(() => undefined),
        30_000,
      );
      report(`[agent-failures] slot free ${Date.now() - killedAt} ms after the agent was killed (lease 6 s)`);
      expect(again.session_id).not.toBe(grant.session_id);
      // The usage up to the last reply (the greeting) was checkpointed before the crash.
      const { data: usage } = await serviceClient(stack)
        .from('usage_logs')
        .select('metadata')
        .eq('user_id', user.id);
      expect(usage).toHaveLength(1);
      expect(usage?.[0]?.metadata).toMatchObject({ final: false, session_id: grant.session_id });
      expect(usage?.[0]?.metadata?.tts?.characters).toBeGreaterThanOrEqual(GREETING.length);
    }, 120_000);
  });
});
