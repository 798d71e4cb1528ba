import type { StackInfo } from '@voice/devstack/stack-info';
import type { MessagesRequest } from '@voice/devstack/standins/anthropic-request';
import { type SpeechClip, speechClip, transcriptByDuration } from '@voice/devstack/standins/fixtures';
import type { ProviderStandins } from '@voice/devstack/standins/index';
import { serviceClient } from '@voice/devstack/testing/users';
import { sleep } from './agent-speech.ts';

/** A scripted conversation: what the caller says (as speech clips) and what Claude (the stand-in) answers. */
export interface Dialogue {
  questions: string[];
  answers: string[];
  clips: SpeechClip[];
}

/**
 * The STT stand-in recognises a question by how long it is spoken (transcriptByDuration). On a loaded machine the
 * length it measures moves by tens of milliseconds, so two questions closer than this could be mixed up.
 */
export const MIN_SPOKEN_LENGTH_GAP_SECONDS = 0.3;

export async function prepareDialogue(
  standins: ProviderStandins,
  questions: string[],
  answers: string[],
): Promise<Dialogue> {
  for (const q of questions) {
    // espeak-ng pauses ~300 ms at a comma, and the agent asks Deepgram for short endpointing: the Deepgram stand-in,
    // like Deepgram, ends an utterance at such a pause, and the halves have lengths no question has.
    if (/[,;:]/.test(q))
      throw new Error(
        `"${q}": a pause inside a scripted question splits it into two utterances; drop the comma`,
      );
  }
  const clips = await Promise.all(questions.map((q) => speechClip(q, { sampleRate: 48_000 })));
  for (const [i, a] of clips.entries()) {
    for (const b of clips.slice(i + 1)) {
      if (Math.abs(a.speechSeconds - b.speechSeconds) < MIN_SPOKEN_LENGTH_GAP_SECONDS) {
        throw new Error(
          `"${a.text}" (${a.speechSeconds.toFixed(2)} s) and "${b.text}" (${b.speechSeconds.toFixed(2)} s) are ` +
            `spoken for nearly the same time: the STT stand-in could mix them up; make one of them longer`,
        );
      }
    }
  }
  standins.configure({
    sttScript: transcriptByDuration(clips),
    llmScript: (request) => answerFor(request, questions, answers),
  });
  return { questions, answers, clips };
}

/** The stand-in's Claude answers by the last user message (preemptive requests may repeat or be cancelled). */
export function answerFor(
  request: MessagesRequest,
  questions: string[],
  answers: string[],
): string | undefined {
  const last = [...request.messages].reverse().find((m) => m.role === 'user');
  const text =
    typeof last?.content === 'string'
      ? last.content
      : (last?.content ?? [])
          .filter((b) => b.type === 'text')
          .map((b) => String(b.text))
          .join(' ');
  const i = questions.findIndex((q) => text.includes(q));
  return i >= 0 ? answers[i] : undefined;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

export interface StoredMessage {
  id: string;
  role: string;
  content: string;
  user_id: string;
  metadata: Record<string, unknown> & { interrupted?: boolean; latency?: Record<string, number> };
  created_at: string;
}

export async function conversationMessages(
  stack: StackInfo,
  conversationId: string,
): Promise<StoredMessage[]> {
  const { data, error } = await serviceClient(stack)
    .from('messages')
    .select('*')
    .eq('conversation_id', conversationId)
    .order('created_at', { ascending: true });
  if (error) throw new Error(error.message);
  return (data ?? []) as StoredMessage[];
}

export async function endedSession(stack: StackInfo, sessionId: string, timeoutMs = 60_000) {
  return waitFor(
    'the session to end',
    async () => {
      const { data } = await serviceClient(stack)
        .from('voice_sessions')
        .select('*')
        .eq('id', sessionId)
        .single();
      return data?.status === 'ended' ? (data as Record<string, unknown>) : undefined;
    },
    timeoutMs,
  );
}

/** Report a measured number in the test output (not an assertion). */
export function report(line: string): void {
  process.stderr.write(`${line}\n`);
}
