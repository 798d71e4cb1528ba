import { randomUUID } from 'node:crypto';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgentWorker, startAgentWorker } from '../../../e2e/src/agent-worker.ts';
import { prepareDialogue, report, waitFor } from '../../../e2e/src/call-scenario.ts';
import { type E2eTokenService, startTokenService } from '../../../e2e/src/token-service.ts';
import { buildGoCaller, GoCallerProcess } from '../../src/go-caller.ts';

// The density benchmark's Go caller (`--rig go`) against the real agent worker over the local stack: it must be
// heard (its pre-encoded Opus question reaches the agent's STT and is answered) and must hear (the agent's
// greeting and reply found from RTP packet sizes alone), stamping its end of speech. No timing is asserted:
// timings are the benchmark's.
const stack = testStack();
const AGENT = `voice-agent-gocaller-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';
const QUESTIONS = ['What is the capital of France?'];
const ANSWERS = ['Paris is the capital of France.'];

let standins: ProviderStandins;
let tokens: E2eTokenService;
let worker: RunningAgentWorker;
let binary: string;

beforeAll(async () => {
  binary = await buildGoCaller();
  standins = await startProviderStandins();
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT });
  worker = await startAgentWorker(stack, standins, { agentName: AGENT, env: { AGENT_GREETING: GREETING } });
});

afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await standins?.stop();
});

describe('the Go caller of the density benchmark', () => {
  it('hears the greeting, speaks a pre-encoded question, stamps its end and hears the reply', async () => {
    const { clips } = await prepareDialogue(standins, QUESTIONS, ANSWERS);
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, { participant_name: 'Go caller' });
    const callers = new GoCallerProcess(binary, report);
    try {
      await callers.loadClips(clips);
      const caller = callers.newCaller();
      const joinedAt = Date.now();
      await caller.join(grant.server_url, grant.participant_token);
      const greeting = await caller.waitForSpeech(joinedAt, 30_000);
      await caller.waitForQuiet(1_000);
      expect(greeting.lastLoudAt).toBeGreaterThan(greeting.startedAt);

      const clip = clips[0];
      if (!clip) throw new Error('no clip');
      const before = Date.now();
      const speechEndedAt = await caller.speak(clip);
      // Stamped when the packet holding the clip's last voiced sample went out: inside the clip, not after it.
      expect(speechEndedAt).toBeGreaterThan(before);
      expect(speechEndedAt).toBeLessThan(Date.now());
      const reply = await caller.waitForSpeech(speechEndedAt, 20_000);
      await caller.waitForQuiet(1_000);
      expect(reply.startedAt).toBeGreaterThan(speechEndedAt);
      expect(reply.lastLoudAt).toBeGreaterThan(reply.startedAt);
      await caller.refreshStats();
      expect(caller.received).toBeGreaterThan(caller.loudPackets);
      expect(caller.loudPackets).toBeGreaterThan(0);
      report(
        `[go-caller] agent track ${caller.agentMime}; ${caller.loudPackets} of ${caller.received} agent packets judged speech; ` +
          `voice-to-voice ${Math.round(reply.startedAt - speechEndedAt)} ms`,
      );
      await caller.hangUp();
    } finally {
      await callers.stop();
    }

    // The agent understood the pre-encoded question (the STT stand-in transcribes by spoken length) and answered.
    const db = serviceClient(stack);
    const messages = await waitFor('the reply row', async () => {
      const { data } = await db
        .from('messages')
        .select('role, content')
        .eq('conversation_id', grant.conversation_id)
        .order('created_at', { ascending: true });
      return (data ?? []).length >= 3 ? data : undefined;
    });
    expect(messages?.map((m) => [m.role, m.content])).toEqual([
      ['assistant', GREETING],
      ['user', QUESTIONS[0]],
      ['assistant', ANSWERS[0]],
    ]);
  });
});
