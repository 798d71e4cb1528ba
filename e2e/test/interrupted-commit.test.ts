import { randomUUID } from 'node:crypto';
import type { MessagesRequest } from '@voice/devstack/standins/anthropic-request';
import { speechClip, transcriptByDuration } from '@voice/devstack/standins/fixtures';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeardSegment, sleep } from '../src/agent-speech.ts';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import {
  conversationMessages,
  endedSession,
  MIN_SPOKEN_LENGTH_GAP_SECONDS,
  report,
  type StoredMessage,
  waitFor,
} from '../src/call-scenario.ts';
import { ScriptedCaller } from '../src/scripted-caller.ts';
import { type E2eTokenService, startTokenService } from '../src/token-service.ts';

// Issue 17: what was heard is what is saved. One call per speech engine, over real LiveKit: the caller interrupts
// the agent early, midway and late in long replies, lets one reply play out, then cuts a reply before any of its
// sound. Every reply heard has exactly one assistant row, a prefix of *that* reply consistent with the audio the
// caller received; the reply cut before any sound has none; Claude's next request carries exactly the saved text;
// the question said across the cut is one user row. The replies share no words, so a row holding another
// reply's text cannot pass for a prefix.

const stack = testStack();
const GREETING = 'Hello there, I am listening.';

/**
 * Questions of clearly different spoken lengths (the STT stand-in tells them apart by length). No commas: espeak-ng
 * pauses ~300 ms at one, and the Deepgram stand-in, like Deepgram, ends an utterance at such a pause, so a question
 * would reach the agent as two utterances of lengths no question has.
 */
const QUESTIONS = [
  'Tell me about bread.',
  'So how do volcanoes form?',
  'Wait how do honeybees talk to each other?',
  'Which metal conducts electricity best of all the common metals?',
  'What do penguins do during the long winter storms in the far south of Antarctica every single year?',
  'Actually never mind all that and please just forget the whole question for now.',
] as const;
const REPLIES = [
  'Bakers in ancient Egypt mixed emmer flour with river water, shaped round loaves by hand, then baked them inside clay pots buried under glowing embers until golden crusts formed around soft crumb.',
  'Volcanoes form where molten rock rises through cracks beneath tectonic plates. Pressure builds slowly, trapped gases escape violently, and ash clouds drift across continents, cooling summers for several years afterward.',
  'Honeybees communicate using waggle dances performed on vertical combs. Each dance encodes direction relative toward sunlight, while its duration signals distance. Foragers follow these movements, memorize routes, then fly out collecting nectar, pollen, propolis.',
  'Silver conducts best. Copper comes second, cheaper, hence everywhere.',
  'Emperor penguins huddle tightly during blizzards, rotating positions.',
  'Sure, no problem.',
] as const;
/** How long after the start of a reply's audio the caller starts talking over it: early, midway, late. */
const BARGE_IN_AFTER_MS = [600, 3_000, 7_000] as const;
/**
 * Tolerance between the saved prefix and the audio the caller heard, in seconds of speech: 1 s plus 25 %. The
 * saved words are the synchronized transcription's (paced at the engine's measured rate where the framework knows
 * it, else at a standard rate), released mid-word; the caller hears through WebRTC and the output buffer.
 */
const TOLERANCE_S = (heardS: number) => 1 + 0.25 * heardS;

/** Claude (the stand-in) answers the question said last in the newest user message. */
function answerTo(request: MessagesRequest): string | undefined {
  const text = userText(request.messages.filter((m) => m.role === 'user').at(-1));
  let best: { at: number; reply: string } | undefined;
  for (const [i, q] of QUESTIONS.entries()) {
    const at = text.lastIndexOf(q);
    if (at >= 0 && (!best || at > best.at)) best = { at, reply: REPLIES[i] as string };
  }
  return best?.reply;
}

type RequestMessage = MessagesRequest['messages'][number];
function userText(message: RequestMessage | undefined): string {
  if (!message) return '';
  if (typeof message.content === 'string') return message.content;
  return message.content
    .filter((b) => b.type === 'text')
    .map((b) => String(b.text))
    .join(' ');
}
const normalize = (s: string) => s.replace(/\s+/g, ' ').trim();

describe.each<{ engine: string; env: Record<string, string> }>([
  { engine: 'openai-realtime (default)', env: {} },
  { engine: 'deepgram', env: { TTS_PROVIDERS: 'deepgram' } },
])('interrupted replies are saved as heard: $engine', ({ engine, env }) => {
  const agentName = `voice-agent-heard-${randomUUID().slice(0, 8)}`;
  let standins: ProviderStandins;
  let tokens: E2eTokenService;
  let worker: RunningAgentWorker;

  beforeAll(async () => {
    standins = await startProviderStandins();
    tokens = await startTokenService(stack, { AGENT_NAME: agentName });
    worker = await startAgentWorker(stack, standins, {
      agentName,
      env: { AGENT_GREETING: GREETING, ...env },
    });
  }, 180_000);
  afterAll(async () => {
    await worker?.stop();
    await tokens?.close();
    await standins?.stop();
  });

  it('early, midway and late barge-ins, a reply heard in full, a reply cut before any sound', async () => {
    const clips = await Promise.all(QUESTIONS.map((q) => speechClip(q, { sampleRate: 48_000 })));
    const lengths = clips.map((c) => c.speechSeconds).sort((a, b) => a - b);
    for (const [i, l] of lengths.slice(1).entries())
      expect(l - (lengths[i] as number), 'questions spoken for nearly the same time').toBeGreaterThanOrEqual(
        MIN_SPOKEN_LENGTH_GAP_SECONDS,
      );
    standins.configure({ sttScript: transcriptByDuration(clips), llmScript: answerTo });

    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, {});
    const caller = new ScriptedCaller();
    const joinedAt = Date.now();
    await caller.join(grant.server_url, grant.participant_token);
    const agentState = () =>
      [...caller.room.remoteParticipants.values()].map((p) => p.attributes['lk.agent.state']).find(Boolean);
    const heard: HeardSegment[] = [];
    try {
      await caller.waitForSpeech(joinedAt, 60_000); // the greeting
      await caller.waitForQuiet(1_000);

      // Three replies, each interrupted by the next question: early, midway, late.
      let askedAt = await caller.speak(clips[0] as (typeof clips)[0]);
      for (const [i, after] of BARGE_IN_AFTER_MS.entries()) {
        const reply = await caller.waitForSpeech(askedAt, 30_000);
        heard.push(reply);
        const wait = reply.startedAt + after - Date.now();
        if (wait > 0) await sleep(wait);
        askedAt = await caller.speak(clips[i + 1] as (typeof clips)[0]);
      }
      // The fourth reply plays out.
      heard.push(await caller.waitForSpeech(askedAt, 30_000));
      await caller.waitForQuiet(1_500);

      // The fifth is cut before any sound: Claude is slow to answer, the caller goes on once the agent thinks.
      standins.configure({ profile: { llmTtftMs: 8_000 } });
      const fifthAskedAt = await caller.speak(clips[4] as (typeof clips)[0]);
      await waitFor('the agent to think about the fifth question', async () =>
        agentState() === 'thinking' ? true : undefined,
      );
      standins.configure({ profile: { llmTtftMs: 0 } });
      askedAt = await caller.speak(clips[5] as (typeof clips)[0]);
      const last = await caller.waitForSpeech(askedAt, 30_000);
      heard.push(last);
      await caller.waitForQuiet(1_500);
      // Nothing of the fifth reply reached the caller: the first sound after the fifth question is the last reply.
      expect((await caller.waitForSpeech(fifthAskedAt, 1_000)).startedAt).toBeGreaterThan(askedAt);
    } finally {
      await caller.hangUp();
    }

    await endedSession(stack, grant.session_id);
    const expectedRoles = ['assistant', ...Array.from({ length: 5 }, () => ['user', 'assistant']).flat()];
    // Rows may land after the session row ends (a webhook can end it first): wait for the expected number, then
    // look at what is there either way (a missing or extra row fails below, with the rows shown).
    await waitFor(
      'every turn saved',
      async () =>
        (await conversationMessages(stack, grant.conversation_id)).length >= expectedRoles.length ||
        undefined,
      20_000,
    ).catch(() => undefined);
    const messages: StoredMessage[] = await conversationMessages(stack, grant.conversation_id);
    const replies = messages.filter((m) => m.role === 'assistant').slice(1);
    report(
      `[interrupted-commit] ${engine}: rows\n${messages.map((m) => `  ${m.role}${m.metadata.interrupted ? ' (interrupted)' : ''}: ${m.content}`).join('\n')}`,
    );

    // In the order they happened: greeting, then each question and the reply heard to it; the question said
    // across the cut reply is one row.
    expect(messages.map((m) => m.role)).toEqual(expectedRoles);
    expect(messages[0]?.content).toBe(GREETING);
    const questions = messages.filter((m) => m.role === 'user').map((m) => m.content);
    expect(questions).toEqual([...QUESTIONS.slice(0, 4), `${QUESTIONS[4]} ${QUESTIONS[5]}`]);
    // The fifth reply, cut before any sound, is nowhere.
    for (const m of messages) expect(m.content).not.toContain('penguins huddle');

    // The replies played out are saved whole, not marked.
    expect(replies[3]?.content).toBe(REPLIES[3]);
    expect(replies[4]?.content).toBe(REPLIES[5]);
    expect(replies[3]?.metadata.interrupted).toBeUndefined();
    expect(replies[4]?.metadata.interrupted).toBeUndefined();

    // Speech rate of this engine as the caller heard it, from the reply heard in full.
    const full = heard[3] as HeardSegment;
    const charsPerSecond = REPLIES[3].length / ((full.lastLoudAt - full.startedAt) / 1000);

    for (const i of [0, 1, 2]) {
      const row = replies[i] as StoredMessage;
      const reply = REPLIES[i] as string;
      const segment = heard[i] as HeardSegment;
      const heardS = (segment.lastLoudAt - segment.startedAt) / 1000;
      const savedS = row.content.length / charsPerSecond;
      report(
        `[interrupted-commit] ${engine}: reply ${i + 1} heard ${heardS.toFixed(2)} s, saved ${row.content.length}/${reply.length} chars ≈ ${savedS.toFixed(2)} s of speech`,
      );
      expect(row.metadata.interrupted).toBe(true);
      // A prefix of that reply (not of another), shorter than the whole.
      expect(reply.startsWith(row.content)).toBe(true);
      expect(row.content.length).toBeLessThan(reply.length);
      expect(Math.abs(savedS - heardS)).toBeLessThanOrEqual(TOLERANCE_S(heardS));
    }

    // Claude's next request carried exactly the saved text of each reply before it, and never the fifth reply.
    const requests = standins.recorded.llm
      .map((r) => r.body as MessagesRequest)
      .filter((b) => Array.isArray(b?.messages));
    for (const [i, row] of replies.entries()) {
      const nextQuestion = i < 4 ? QUESTIONS[i + 1] : undefined;
      if (!nextQuestion) continue;
      const answered = requests.filter((b) => userText(b.messages.at(-1)).includes(nextQuestion)).at(-1);
      expect(answered, `Claude's request after reply ${i + 1}`).toBeDefined();
      const assistantTexts = (answered?.messages ?? [])
        .filter((m) => m.role === 'assistant')
        .map((m) => normalize(userText(m)));
      expect(assistantTexts).toContain(normalize(row.content));
      expect(assistantTexts.join(' ')).not.toContain(normalize(REPLIES[4]));
    }
  }, 240_000);
  it('a backchannel ("Yeah.") over a reply: each reply heard has one row, a prefix of that reply, in order', async () => {
    const question = 'Tell me about the moon and its phases, please.';
    const reply =
      'Moonlight reflects sunshine; crescent, gibbous, waxing, waning shapes follow orbital geometry over twenty nine days, while tides respond gently.';
    const acknowledgement = 'Glad that helps.';
    const clips = await Promise.all([question, 'Yeah.'].map((q) => speechClip(q, { sampleRate: 48_000 })));
    standins.configure({
      sttScript: transcriptByDuration(clips),
      llmScript: (request) => {
        const text = userText(request.messages.filter((m) => m.role === 'user').at(-1));
        return text.endsWith('Yeah.') ? acknowledgement : text.includes(question) ? reply : undefined;
      },
    });
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, {});
    const caller = new ScriptedCaller();
    const joinedAt = Date.now();
    await caller.join(grant.server_url, grant.participant_token);
    try {
      await caller.waitForSpeech(joinedAt, 60_000);
      await caller.waitForQuiet(1_000);
      const askedAt = await caller.speak(clips[0] as (typeof clips)[0]);
      const segment = await caller.waitForSpeech(askedAt, 30_000);
      const wait = segment.startedAt + 2_500 - Date.now();
      if (wait > 0) await sleep(wait);
      await caller.speak(clips[1] as (typeof clips)[0]);
      await sleep(1_500);
      await caller.waitForQuiet(2_000, 60_000);
    } finally {
      await caller.hangUp();
    }
    await endedSession(stack, grant.session_id);
    await sleep(2_000); // rows written after the session row ended (see above)
    const messages = await conversationMessages(stack, grant.conversation_id);
    report(
      `[interrupted-commit] ${engine} backchannel: rows\n${messages.map((m) => `  ${m.role}${m.metadata.interrupted ? ' (interrupted)' : ''}: ${m.content}`).join('\n')}`,
    );
    expect(messages.slice(0, 2).map((m) => m.content)).toEqual([GREETING, question]);
    // A one-word backchannel does not stop the agent (INTERRUPTION_MIN_WORDS=2) and is not answered: the reply is
    // saved whole, once, not marked interrupted; the caller's "Yeah." is kept as what they said, after it.
    expect(messages.slice(2).map((m) => [m.role, m.content, m.metadata.interrupted === true])).toEqual([
      ['assistant', reply, false],
      ['user', 'Yeah.', false],
    ]);
    expect(JSON.stringify(messages)).not.toContain(acknowledgement);
  }, 180_000);
});
