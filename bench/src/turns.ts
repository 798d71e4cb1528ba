import { pausedSpeechClip, type SpeechClip, speechClip } from '@voice/devstack/standins/fixtures';
import { serviceClient } from '@voice/devstack/testing/users';
import { sleep } from '../../e2e/src/agent-speech.ts';
import { BENCH_PROFILE, BenchCall, benchUsers, QUESTIONS, type Rig } from './call-rig.ts';
import { type Summary, summarize } from './lib/stats.ts';
import { speechRequests } from './voice.ts';

/**
 * Turn-taking (`npm run bench -- turns`): one caller over real WebRTC, with the agent as configured, says:
 * - sentences with a pause in the middle (300, 500, 800, 1200 ms), a list with pauses, a hesitation ("um …"),
 *   a question that trails off;
 * - clean questions (the speed case);
 * - backchannels ("yeah", "okay", "mm-hm") while the agent gives a long answer, and real interruptions.
 *
 * Per case: a false cut-off is agent audio reaching the caller before the utterance's true end; voice-to-voice
 * is measured at the true end; Claude and speech requests are counted per answered turn (wasted preemptive work
 * is money); a backchannel stopped the agent when its audio stops within 1.5 s of the backchannel; an
 * interruption is stopped when the agent's audio at the caller ends within 500 ms of the caller starting to speak.
 *
 * The caller speaks with Flite's `slt` voice: the end-of-turn model reads espeak-ng's flat prosody as unfinished
 * everywhere (bench/src/eot-cost.ts), which would measure espeak-ng, not the agent. Pauses are exact silences
 * between separately synthesised parts, so each part ends like a sentence end in Flite's prosody, not like
 * a person who pauses mid-thought: harder for the model than real hesitation, which usually sounds unfinished.
 */

const VOICE = 'flite:slt';
export const PAUSES_MS = [300, 500, 800, 1200] as const;
const PAUSED: string[][] = [
  ["I'd like to know", 'the weather in Lisbon tomorrow.'],
  ['Can you tell me', 'how long to boil an egg?'],
  ['My question is about', 'the train times to Porto.'],
];
const LIST = { parts: ['I need eggs', 'milk', 'and some bread.'], pauseMs: 500 };
const HESITATION = { parts: ['I would like, um', 'a table for two tonight.'], pauseMs: 800 };
const TRAILING = 'So what do you think about';
const BACKCHANNELS = ['Yeah.', 'Okay.', 'Mm-hm.'];
const ASK_LONG = 'Tell me about bread.';
const INTERRUPTION = 'Hold on what flour is best for pizza dough?';
/** ~14 s of speech: long enough to backchannel into and to interrupt. */
const LONG =
  'Let me tell you the whole history of bread. People have baked bread for many thousands of years, first as flat ' +
  'cakes of ground grain and water on hot stones, then as leavened loaves in clay ovens, and later in great ' +
  'bakeries that fed entire cities every single morning before sunrise.';
const SHORT_REPLY = 'That is a good question and the answer depends on the details.';
const STOPPED_WITHIN_MS = 500;
/**
 * Quiet at the caller before the next case starts. After a false cut-off the answer to the whole sentence comes
 * up to the end-of-turn wait (at most 1.6 s) + Claude's first token + speech's first audio after the previous
 * audio: 1.85–1.9 s was seen. With 1.8 s of quiet that late answer landed inside the next case and was counted
 * as its cut-off; 3 s is longer than the longest wait plus the bench profile's provider delays.
 */
const QUIET_BETWEEN_CASES_MS = 3_000;
const BACKCHANNEL_STOP_WINDOW_MS = 1_500;

export interface CutoffCase {
  kind: string;
  pauseMs: number;
  text: string;
  cutOff: boolean;
  /** True end of speech → first agent audio (negative: a cut-off). */
  replyMs: number | undefined;
}

export interface TurnsResult {
  voice: string;
  /** Per pause length: trials and false cut-offs. */
  pauses: Array<{ pauseMs: number; trials: number; falseCutoffs: number; rate: number }>;
  cases: CutoffCase[];
  /** Voice-to-voice on clean questions. */
  cleanV2vMs: Summary;
  /** A question that trails off: how long until the agent took its turn anyway. */
  trailingReplyMs: number | undefined;
  answeredTurns: number;
  llmRequests: number;
  speechRequests: number;
  llmRequestsPerTurn: number;
  speechRequestsPerTurn: number;
  backchannels: { trials: number; stopped: number; rate: number };
  interruptions: {
    trials: number;
    stoppedWithin500: number;
    notStopped: number;
    rate: number;
    stopMs: number[];
  };
  failures: string[];
}

export async function runTurnsBench(
  rig: Rig,
  options: { repeats: number; log: (line: string) => void },
): Promise<TurnsResult> {
  const { log } = options;
  const clip = (text: string) => speechClip(text, { voice: VOICE, sampleRate: 48_000, trailSilenceMs: 800 });
  const paused = (parts: string[], pauseMs: number) =>
    pausedSpeechClip(parts, pauseMs, { voice: VOICE, sampleRate: 48_000, trailSilenceMs: 800 });
  const [user] = await benchUsers(rig, 1);
  if (!user) throw new Error('no user');
  rig.standins.reset();
  rig.standins.configure({
    profile: BENCH_PROFILE,
    // Only "tell me about bread" gets the long answer; everything else one short sentence.
    llmScript: (request) => {
      const last = JSON.stringify(request.messages.at(-1) ?? '');
      return last.includes('about bread') && !last.includes('flour') ? LONG : SHORT_REPLY;
    },
  });
  const cases: CutoffCase[] = [];
  const clean: number[] = [];
  const failures: string[] = [];
  let trailingReplyMs: number | undefined;
  const backchannels = { trials: 0, stopped: 0 };
  const interruptions = { trials: 0, stoppedWithin500: 0, notStopped: 0, stopMs: [] as number[] };
  const call = new BenchCall();
  const startedAt = Date.now();
  /** Between cases: nothing more will come from the agent about the last one (see QUIET_BETWEEN_CASES_MS). */
  const settle = async () => {
    await call.caller.waitForQuiet(QUIET_BETWEEN_CASES_MS, 60_000);
  };
  /** Says a clip whose transcript parts are known; returns when its speech started and ended (caller clock). */
  const say = async (c: SpeechClip, parts: string[]) => {
    rig.standins.configure({ sttScript: [...parts] });
    const t0 = Date.now();
    const end = await call.caller.speak(c);
    return { start: t0 + (c.utterances[0]?.start ?? 0) * 1000, end };
  };
  const firstHeardAfter = (t: number) => call.caller.heard.find((s) => s.startedAt > t);

  try {
    await call.open(rig, user);
    for (let r = 0; r < options.repeats; r++) {
      for (const pauseMs of PAUSES_MS) {
        for (const parts of PAUSED) {
          const c = await paused(parts, pauseMs);
          const t0 = Date.now();
          const { end } = await say(c, parts);
          await waitHeard(call, t0, 20_000).catch(() => failures.push(`no reply: ${parts.join(' … ')}`));
          const heard = firstHeardAfter(t0);
          const cutOff = heard !== undefined && heard.startedAt < end;
          cases.push({
            kind: 'pause',
            pauseMs,
            text: parts.join(' … '),
            cutOff,
            replyMs: heard ? heard.startedAt - end : undefined,
          });
          await settle();
        }
      }
      log(`turns: pauses done (repeat ${r + 1}/${options.repeats})`);
      for (const [kind, spec] of [
        ['list', LIST],
        ['hesitation', HESITATION],
      ] as const) {
        const c = await paused(spec.parts, spec.pauseMs);
        const t0 = Date.now();
        const { end } = await say(c, spec.parts);
        await waitHeard(call, t0, 20_000).catch(() => failures.push(`no reply: ${kind}`));
        const heard = firstHeardAfter(t0);
        cases.push({
          kind,
          pauseMs: spec.pauseMs,
          text: spec.parts.join(' … '),
          cutOff: heard !== undefined && heard.startedAt < end,
          replyMs: heard ? heard.startedAt - end : undefined,
        });
        await settle();
      }
      {
        const t0 = Date.now();
        const { end } = await say(await clip(TRAILING), [TRAILING]);
        await waitHeard(call, t0, 20_000).catch(() => failures.push('no reply: trailing'));
        const heard = firstHeardAfter(t0);
        trailingReplyMs = heard ? heard.startedAt - end : undefined;
        await settle();
      }
      for (const q of QUESTIONS) {
        const t0 = Date.now();
        const { end } = await say(await clip(q), [q]);
        await waitHeard(call, t0, 20_000).catch(() => failures.push(`no reply: ${q}`));
        const heard = firstHeardAfter(t0);
        if (heard && heard.startedAt > end) clean.push(heard.startedAt - end);
        await settle();
      }
      log(`turns: clean questions done, v2v so far ${JSON.stringify(summarize(clean))}`);
      for (const word of BACKCHANNELS) {
        const t0 = Date.now();
        await say(await clip(ASK_LONG), [ASK_LONG]);
        await waitHeard(call, t0, 20_000);
        await sleep(2_000);
        const { end } = await say(await clip(word), [word]);
        await sleep(BACKCHANNEL_STOP_WINDOW_MS + 500);
        // The answer's audio (one segment: its sentences follow closer than a segment gap) still going 1.5 s
        // after the backchannel: it did not stop. A reply to the backchannel would be a later segment.
        const playing = call.caller.heard.find((s) => s.startedAt < end - 500 && s.lastLoudAt >= end - 1_000);
        const talking = playing !== undefined && playing.lastLoudAt > end + BACKCHANNEL_STOP_WINDOW_MS;
        backchannels.trials += 1;
        if (!talking) backchannels.stopped += 1;
        await settle();
      }
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        await say(await clip(ASK_LONG), [ASK_LONG]);
        await waitHeard(call, t0, 20_000);
        await sleep(2_000 + i * 700);
        const { start, end } = await say(await clip(INTERRUPTION), [INTERRUPTION]);
        await waitHeard(call, end, 20_000).catch(() => failures.push('no reply to the interruption'));
        // The long answer's audio: the segment playing when the caller started.
        const answer = call.caller.heard.find((s) => s.startedAt < start && s.lastLoudAt >= start - 700);
        interruptions.trials += 1;
        if (!answer || answer.lastLoudAt >= end) interruptions.notStopped += 1;
        else {
          const stopMs = Math.max(0, answer.lastLoudAt - start);
          interruptions.stopMs.push(stopMs);
          if (stopMs <= STOPPED_WITHIN_MS) interruptions.stoppedWithin500 += 1;
        }
        await settle();
      }
      log(
        `turns: backchannels stopped ${backchannels.stopped}/${backchannels.trials}, interruptions within 500 ms ` +
          `${interruptions.stoppedWithin500}/${interruptions.trials} (${interruptions.stopMs.join(', ')} ms)`,
      );
    }
  } finally {
    await call.close();
  }
  const endedAt = Date.now();
  const answeredTurns = await answeredTurnCount(rig, call.grant?.conversation_id ?? '');
  const llmRequests = rig.standins.recorded.llm.filter(
    (r) => r.receivedAt.getTime() > startedAt && r.receivedAt.getTime() < endedAt,
  ).length;
  const speech = speechRequests(rig.standins).filter((r) => r.receivedAt > startedAt).length;
  const pauses = PAUSES_MS.map((pauseMs) => {
    const trials = cases.filter((c) => c.kind === 'pause' && c.pauseMs === pauseMs);
    const falseCutoffs = trials.filter((c) => c.cutOff).length;
    return { pauseMs, trials: trials.length, falseCutoffs, rate: ratio(falseCutoffs, trials.length) };
  });
  return {
    voice: VOICE,
    pauses,
    cases,
    cleanV2vMs: summarize(clean),
    trailingReplyMs,
    answeredTurns,
    llmRequests,
    speechRequests: speech,
    llmRequestsPerTurn: ratio(llmRequests, answeredTurns),
    speechRequestsPerTurn: ratio(speech, answeredTurns),
    backchannels: { ...backchannels, rate: ratio(backchannels.stopped, backchannels.trials) },
    interruptions: {
      ...interruptions,
      rate: ratio(interruptions.stoppedWithin500, interruptions.trials),
    },
    failures,
  };
}

async function waitHeard(call: BenchCall, after: number, timeoutMs: number): Promise<void> {
  await call.caller.waitForSpeech(after, timeoutMs);
}

const ratio = (a: number, b: number) => (b === 0 ? Number.NaN : Math.round((a / b) * 1000) / 1000);

/** Replies the agent gave (its message rows), without the greeting. */
async function answeredTurnCount(rig: Rig, conversationId: string): Promise<number> {
  await sleep(2_000); // rows are written asynchronously
  const { data } = await serviceClient(rig.stack.info)
    .from('messages')
    .select('role')
    .eq('conversation_id', conversationId);
  const assistants = (data ?? []).filter((r) => r.role === 'assistant').length;
  return Math.max(0, assistants - 1);
}

/** The headline of the false cut-off rates: pauses up to 800 ms together, and 1200 ms. */
export function cutoffRates(result: TurnsResult): { upTo800: number; at1200: number } {
  const upTo = result.pauses.filter((p) => p.pauseMs <= 800);
  const trials = upTo.reduce((s, p) => s + p.trials, 0);
  const cut = upTo.reduce((s, p) => s + p.falseCutoffs, 0);
  return {
    upTo800: ratio(cut, trials),
    at1200: result.pauses.find((p) => p.pauseMs === 1200)?.rate ?? Number.NaN,
  };
}
