import { initializeLogger, stt } from '@livekit/agents';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
// Not exported by the package's index; the same module instances the framework itself uses.
import { Future } from '../../../node_modules/@livekit/agents/dist/utils.js';
import { AudioRecognition } from '../../../node_modules/@livekit/agents/dist/voice/audio_recognition.js';

// Preemptive generation gated on the end-of-turn model (patches/@livekit+agents+1.9.0.patch, change 16, issue 15).
// These drive the framework's AudioRecognition with Deepgram-shaped final transcripts while a prediction of the
// pause is in flight, as a call does 200 ms into a pause (the VAD still counts the caller as speaking then), and
// record what it asks the session to start. They fail on the unpatched framework, which starts a request on every
// final at once.

interface Started {
  transcript: string;
  at: number;
}

type Prediction = Future<{
  type: 'eot_prediction';
  endOfTurnProbability: number;
  lastSpeakingTimeMs: number;
}>;

const THRESHOLD = 0.36;
const open: AudioRecognition[] = [];

function recognition(unlikelyDelayMs: number | undefined, predictionSilenceMs?: number) {
  const started: Started[] = [];
  const hooks = {
    onFinalTranscript: () => {},
    onInterimTranscript: () => {},
    onPreemptiveGeneration: (info: { newTranscript: string }) => {
      started.push({ transcript: info.newTranscript, at: Date.now() });
    },
  };
  const rec = new AudioRecognition({
    recognitionHooks: hooks,
    turnDetectionMode: 'vad',
    preemptiveUnlikelyEndOfTurnDelay: unlikelyDelayMs,
    preemptivePredictionSilence: predictionSilenceMs,
    // biome-ignore lint/suspicious/noExplicitAny: the constructor's options type is internal to the package
  } as any);
  open.push(rec);
  // The audio end-of-turn model's stream as the recognition sees it: its threshold for the caller's language.
  // biome-ignore lint/suspicious/noExplicitAny: internal fields of the framework's class
  const state = rec as any;
  const predictions: Prediction[] = [];
  state.turnDetectorStream = {
    unlikelyThreshold: async () => THRESHOLD,
    predict: () => {
      const fut: Prediction = new Future();
      predictions.push(fut);
      return fut;
    },
  };
  state.speaking = true;
  /** The pause's prediction is under way (the VAD task does this 200 ms into a pause). */
  const pause = (): Prediction => {
    const fut: Prediction = new Future();
    state.lastSpeakingTime = Date.now();
    state.turnDetectorPredictionFut = fut;
    state.gatePendingPreemptive?.();
    return fut;
  };
  const final = (text: string): Promise<void> =>
    state.onSTTEvent({
      type: stt.SpeechEventType.FINAL_TRANSCRIPT,
      alternatives: [{ text, language: 'en', startTime: 0, endTime: 0, confidence: 0.99 }],
    });
  const predict = (fut: Prediction, p: number) =>
    fut.resolve({ type: 'eot_prediction', endOfTurnProbability: p, lastSpeakingTimeMs: Date.now() });
  return { started, pause, final, predict, predictions, state };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => {
  initializeLogger({ pretty: false, level: 'silent' });
});

afterEach(async () => {
  for (const rec of open.splice(0)) await rec.close().catch(() => {});
});

describe('preemptive generation gated on the end-of-turn model', () => {
  it('starts at once when the model hears a finished turn', async () => {
    const { started, pause, final, predict } = recognition(1_000);
    const fut = pause();
    await final('What is the capital of France?');
    await sleep(20);
    expect(started).toEqual([]); // waits for the prediction, not for the endpointing delay
    const predictedAt = Date.now();
    predict(fut, 0.8);
    await sleep(20);
    expect(started.map((s) => s.transcript)).toEqual(['What is the capital of France?']);
    expect(started[0]?.at ?? Infinity).toBeLessThan(predictedAt + 20);
  });

  it('a final in a pause the model has not been asked about yet asks it at once', async () => {
    // The VAD asks only at 200 ms of its own silence, which its lag puts after the final: the final asks first,
    // and that prediction is the pause's (the VAD's check finds it under way and the endpointing reads it).
    const { started, final, predict, predictions, state } = recognition(1_000);
    state.lastSpeakingTime = Date.now();
    await final('What is the capital of France?');
    expect(predictions).toHaveLength(1);
    expect(state.turnDetectorPredictionFut).toBe(predictions[0]);
    expect(started).toEqual([]);
    predict(predictions[0] as Prediction, 0.8);
    await sleep(20);
    expect(started.map((s) => s.transcript)).toEqual(['What is the capital of France?']);
  });

  it('a final while a prediction is under way asks for no other', async () => {
    const { final, pause, predictions } = recognition(1_000);
    pause();
    await final('What is the capital of France?');
    expect(predictions).toEqual([]);
  });

  it('a pause mid-sentence costs no request: one, for the whole sentence', async () => {
    const { started, pause, final, predict } = recognition(300);
    const mid = pause();
    await final("I'd like to know");
    predict(mid, 0.1);
    await sleep(150); // the caller goes on within the pause
    const end = pause();
    await final('the weather in Lisbon tomorrow.');
    predict(end, 0.7);
    await sleep(400);
    expect(started.map((s) => s.transcript)).toEqual(["I'd like to know the weather in Lisbon tomorrow."]);
  });

  it("a fragment's request does not start on the next pause's prediction before that pause's final", async () => {
    // The race CI met: the prediction of the second pause (asked at 100 ms of VAD silence) resolved before that
    // pause's final arrived, and started a request for the first part's stale transcript, then one for the whole.
    const { started, pause, final, predict, state } = recognition(300);
    const mid = pause();
    await final("I'd like to know");
    predict(mid, 0.1); // unfinished: deferred
    await sleep(20);
    state.holdPendingPreemptive(); // what the VAD task does when the caller's speech starts again
    const end = pause();
    predict(end, 0.7); // finished, before the second part's final is in
    await sleep(20);
    expect(started).toEqual([]);
    await final('the weather in Lisbon tomorrow.');
    await sleep(20);
    expect(started.map((s) => s.transcript)).toEqual(["I'd like to know the weather in Lisbon tomorrow."]);
  });

  it('a fragment with no further final still starts, once the pause has lasted the delay', async () => {
    // Speech the STT never finalized (a breath, a cough): the held request is not lost, only not hurried.
    const { started, pause, final, predict, state } = recognition(250);
    const mid = pause();
    await final('So what do you think about');
    predict(mid, 0.1);
    state.holdPendingPreemptive();
    const end = pause();
    const pausedAt = Date.now();
    predict(end, 0.7);
    await sleep(150);
    expect(started).toEqual([]);
    await sleep(200);
    expect(started.map((s) => s.transcript)).toEqual(['So what do you think about']);
    expect(started[0]?.at ?? 0).toBeGreaterThanOrEqual(pausedAt + 245);
  });

  it('starts a turn the model judges unfinished only once the pause has lasted the delay', async () => {
    const { started, pause, final, predict } = recognition(250);
    const fut = pause();
    const pausedAt = Date.now();
    await final('So what do you think about');
    predict(fut, 0.1);
    await sleep(150);
    expect(started).toEqual([]);
    await sleep(200);
    expect(started.map((s) => s.transcript)).toEqual(['So what do you think about']);
    expect(started[0]?.at ?? 0).toBeGreaterThanOrEqual(pausedAt + 245);
  });

  it("the pause's prediction is asked for at the gate's VAD silence, at 200 ms without the gate", () => {
    expect(recognition(1_000, 100).state.eotPredictionSilence()).toBe(100);
    expect(recognition(1_000).state.eotPredictionSilence()).toBe(200);
    expect(recognition(undefined, 100).state.eotPredictionSilence()).toBe(200);
  });

  it('without the option, every final starts a request at once (upstream)', async () => {
    const { started, pause, final } = recognition(undefined);
    pause();
    await final("I'd like to know");
    expect(started.map((s) => s.transcript)).toEqual(["I'd like to know"]);
  });
});
