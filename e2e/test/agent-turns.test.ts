import { randomUUID } from 'node:crypto';
import { pausedSpeechClip, speechClip } from '@voice/devstack/standins/fixtures';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sleep } from '../src/agent-speech.ts';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import { answerFor, conversationMessages, endedSession, report, waitFor } from '../src/call-scenario.ts';
import { ScriptedCaller } from '../src/scripted-caller.ts';
import { type E2eTokenService, startTokenService } from '../src/token-service.ts';

// Turn-taking over real WebRTC with the agent's defaults (the local end-of-turn model, Deepgram endpointing 25 ms
// on the stand-in that ends utterances like Deepgram, two-word barge-in): a caller who pauses mid-sentence is not
// cut off, a backchannel does not stop a long answer, a real interruption does.
//
// The caller speaks with Flite's `slt` voice, not espeak-ng: the end-of-turn model hears espeak-ng's flat
// sentence ends as unfinished (bench/src/eot-cost.ts), which would make every turn wait the maximum delay.
const stack = testStack();
const AGENT = `voice-agent-turns-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';
const VOICE = 'flite:slt';
const LONG =
  'Let me tell you the whole history of bread. People have baked bread for many thousands of years, first as flat ' +
  'cakes of ground grain and water on hot stones, then as leavened loaves in clay ovens, and later in great ' +
  'bakeries that fed entire cities every single morning before sunrise.';

let standins: ProviderStandins;
let tokens: E2eTokenService;
let worker: RunningAgentWorker;

beforeAll(async () => {
  standins = await startProviderStandins();
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT });
  worker = await startAgentWorker(stack, standins, { agentName: AGENT, env: { AGENT_GREETING: GREETING } });
});
afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await standins?.stop();
});
beforeEach(() => standins.reset());

async function startCall() {
  const user = await createTestUser(stack, { tier: 'studio' });
  const grant = await tokens.issue(user.accessToken, {});
  const caller = new ScriptedCaller();
  const joinedAt = Date.now();
  await caller.join(grant.server_url, grant.participant_token);
  await caller.waitForSpeech(joinedAt, 60_000); // the greeting
  await caller.waitForQuiet(1_000);
  return { grant, caller };
}

/** The stand-in's Claude: the scripted answer for a question the last user message contains, else a marker. */
function scriptClaude(questions: string[], answers: string[]): void {
  standins.configure({
    llmScript: (request) => answerFor(request, questions, answers) ?? 'ANSWER TO A FRAGMENT.',
  });
}

describe('turn-taking in a call', () => {
  it('a caller who pauses 800 ms mid-sentence gets one answer to the whole sentence', async () => {
    const parts = ["I'd like to know", 'the weather in Lisbon tomorrow.'];
    const sentence = parts.join(' ');
    const answer = 'Tomorrow Lisbon will be sunny and warm.';
    const clip = await pausedSpeechClip(parts, 800, { voice: VOICE, sampleRate: 48_000 });
    // Deepgram (endpointing 25 ms) finalizes each part on its own, as the real service does.
    standins.configure({ sttScript: [...parts] });
    scriptClaude([sentence], [answer]);
    const { grant, caller } = await startCall();
    let heard: { startedAt: number };
    let speechEnd = 0;
    const startedAt = Date.now();
    try {
      speechEnd = await caller.speak(clip);
      heard = await caller.waitForSpeech(startedAt, 30_000);
      await caller.waitForQuiet(1_500);
    } finally {
      await caller.hangUp();
    }
    // No agent audio while the caller was still talking (the pause is 800 ms of the caller's own turn).
    expect(heard.startedAt).toBeGreaterThan(speechEnd);
    report(
      `[agent-turns] pause 800 ms: answer ${heard.startedAt - speechEnd} ms after the true end; ` +
        `Claude requests ${standins.recorded.llm.length}`,
    );
    await endedSession(stack, grant.session_id);
    const messages = await waitFor('3 messages', async () => {
      const m = await conversationMessages(stack, grant.conversation_id);
      return m.length >= 3 ? m : undefined;
    });
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['assistant', GREETING],
      ['user', sentence],
      ['assistant', answer],
    ]);
    expect(standins.recorded.stt[0]?.finals.map((f) => f.text)).toEqual(parts);
    // One Claude request, for the whole sentence: the first part's final came in a pause the end-of-turn model
    // judged unfinished, shorter than the delay before such a pause starts a preemptive request (build-session.ts).
    const lastUserTurns = standins.recorded.llm.map((r) =>
      JSON.stringify((r.body as { messages: unknown[] }).messages.at(-1)),
    );
    expect(lastUserTurns).toHaveLength(1);
    expect(lastUserTurns[0]).toContain(sentence);
  }, 180_000);

  it('"mm-hm" and then "okay" during a long answer do not stop it and are not answered', async () => {
    const question = 'Tell me about bread.';
    const [ask, mmHm, okay] = await Promise.all([
      speechClip(question, { voice: VOICE, sampleRate: 48_000 }),
      speechClip('Mm-hm.', { voice: VOICE, sampleRate: 48_000 }),
      speechClip('Okay.', { voice: VOICE, sampleRate: 48_000 }),
    ]);
    standins.configure({ sttScript: [question, 'Mm-hm.', 'Okay.'] });
    scriptClaude([question], [LONG]);
    const { grant, caller } = await startCall();
    let backchannelEnd = 0;
    let lastHeard = 0;
    try {
      const asked = await caller.speak(ask);
      await caller.waitForSpeech(asked, 30_000);
      await sleep(2_000);
      // Two one-word backchannels in the same answer: each is one word, not a two-word interruption together.
      await caller.speak(mmHm);
      await sleep(2_000);
      backchannelEnd = await caller.speak(okay);
      await caller.waitForQuiet(2_000, 60_000);
      lastHeard = Math.max(...caller.heard.map((s) => s.lastLoudAt));
    } finally {
      await caller.hangUp();
    }
    // The answer (~14 s of speech) went on well past the backchannel.
    report(`[agent-turns] backchannels: agent still talking ${lastHeard - backchannelEnd} ms after "okay"`);
    expect(lastHeard - backchannelEnd).toBeGreaterThan(5_000);
    await endedSession(stack, grant.session_id);
    const messages = await waitFor('3 messages', async () => {
      const m = await conversationMessages(stack, grant.conversation_id);
      return m.length >= 3 ? m : undefined;
    });
    // The answer was spoken whole and not interrupted (sentences compared without spaces: how the stored reply
    // joins its sentences is not what this test is about).
    expect(messages.slice(0, 3).map((m) => m.role)).toEqual(['assistant', 'user', 'assistant']);
    expect(messages[1]?.content).toBe(question);
    expect(messages[2]?.content.replace(/\s+/g, '')).toBe(LONG.replace(/\s+/g, ''));
    expect(messages[2]?.metadata.interrupted).not.toBe(true);
    // The backchannels got no answer: Claude was never asked to reply to them. (The framework keeps the words of
    // a skipped backchannel with the caller's next turn; with no next turn they are saved as said, unanswered, at
    // the end.)
    expect(messages.slice(3).map((m) => [m.role, m.content])).toEqual(
      messages.length > 3 ? [['user', 'Mm-hm. Okay.']] : [],
    );
    const lastUserTurns = standins.recorded.llm.map((r) =>
      JSON.stringify((r.body as { messages: unknown[] }).messages.at(-1)),
    );
    expect(lastUserTurns.length).toBeGreaterThan(0);
    for (const turn of lastUserTurns) expect(turn).toContain(question);
  }, 180_000);

  it('a real interruption stops the answer, and the caller is answered', async () => {
    const question = 'Tell me about bread.';
    const interruption = 'Hold on what flour is best for pizza dough?';
    const flour = 'Tipo double zero flour.';
    const [ask, interrupt] = await Promise.all([
      speechClip(question, { voice: VOICE, sampleRate: 48_000 }),
      speechClip(interruption, { voice: VOICE, sampleRate: 48_000 }),
    ]);
    standins.configure({ sttScript: [question, interruption] });
    scriptClaude([question, interruption], [LONG, flour]);
    const { grant, caller } = await startCall();
    try {
      const asked = await caller.speak(ask);
      const answer = await caller.waitForSpeech(asked, 30_000);
      await sleep(1_500);
      const interruptStartedAt = Date.now();
      const secondAsked = await caller.speak(interrupt);
      report(
        `[agent-turns] interruption: agent audio stopped ${answer.lastLoudAt - interruptStartedAt} ms after the caller started`,
      );
      // Stopped while the caller spoke, long before the answer's ~14 s.
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
    expect(messages.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(messages[2]?.metadata.interrupted).toBe(true);
    expect(messages[3]?.content).toBe(interruption);
    expect(messages[4]?.content).toBe(flour);
  }, 180_000);
});
