import { initializeLogger, tts, USERDATA_TIMED_TRANSCRIPT, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ProviderStandins, startProviderStandins } from '../../../devstack/src/standins/index.ts';
// Not exported by the package's index; the same module instance the framework itself uses.
import { performTextForwarding } from '../../../node_modules/@livekit/agents/dist/voice/generation.js';
import { TextOutput } from '../../../node_modules/@livekit/agents/dist/voice/io.js';
import { TranscriptionSynchronizer } from '../../../node_modules/@livekit/agents/dist/voice/transcription/synchronizer.js';
import { buildCallSpeech, type CallSpeech } from '../../src/pipeline/call-speech.ts';
import { RecordingSpeechObserver, standinAgentConfig, standinSpeechOptions } from './standin-agent-config.ts';

// What an interrupted reply is saved with is the synchronized transcript of *its own* playout segment
// (patches/@livekit+agents+1.9.0.patch, issue 17). These tests drive the framework's playout and transcript
// pieces as the session chains them (TranscriptionSynchronizer in front of an audio sink that plays in real time)
// and fail on the unpatched framework: a waiter left hanging, a reply saved with another reply's transcript, words
// released after the audio stopped, sentences joined without a space.

const SAMPLE_RATE = 24_000;

/** An audio sink that plays in real time, as LiveKit's ParticipantAudioOutput does, without a room. */
class RealTimeSink extends voice.AudioOutput {
  #startedAt: number | undefined;
  #captured = 0;
  #finishTimer: NodeJS.Timeout | undefined;
  #playingOut: Promise<void> | undefined;
  #playedOut: (() => void) | undefined;

  constructor() {
    super(SAMPLE_RATE);
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    // As LiveKit's output: the next segment starts once the one being flushed has played out.
    await this.#playingOut;
    await super.captureFrame(frame);
    if (this.#startedAt === undefined) {
      this.#startedAt = Date.now();
      this.onPlaybackStarted(this.#startedAt);
    }
    this.#captured += frame.samplesPerChannel / frame.sampleRate;
  }

  override flush(): void {
    super.flush();
    if (this.#startedAt === undefined || this.#finishTimer) return;
    const endsAt = this.#startedAt + this.#captured * 1000;
    this.#playingOut = new Promise((resolve) => {
      this.#playedOut = resolve;
    });
    this.#finishTimer = setTimeout(() => this.#finish(false), Math.max(0, endsAt - Date.now()));
  }

  override clearBuffer(): void {
    if (this.#startedAt !== undefined) this.#finish(true);
  }

  #finish(interrupted: boolean): void {
    clearTimeout(this.#finishTimer);
    const captured = this.#captured;
    const elapsed = (Date.now() - (this.#startedAt ?? Date.now())) / 1000;
    this.#startedAt = undefined;
    this.#captured = 0;
    this.#finishTimer = undefined;
    this.#playedOut?.();
    this.onPlaybackFinished({
      playbackPosition: interrupted ? Math.min(captured, elapsed) : captured,
      interrupted,
    });
  }
}

/** What the caller's transcription stream received. */
class TextSink extends TextOutput {
  text = '';
  async captureText(text: string | voice.TimedString): Promise<void> {
    this.text += typeof text === 'string' ? text : text.text;
  }
  flush(): void {}
}

function silence(seconds: number): AudioFrame[] {
  const perFrame = SAMPLE_RATE / 100;
  return Array.from(
    { length: Math.round(seconds * 100) },
    () => new AudioFrame(new Int16Array(perFrame), SAMPLE_RATE, 1, perFrame),
  );
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One reply through the synchronizer: its text, then its audio (captured faster than it plays, as TTS does). */
async function sendReply(sync: TranscriptionSynchronizer, text: string, seconds: number, endText = true) {
  await sync.textOutput.captureText(text);
  if (endText) await sync.textOutput.flush();
  for (const frame of silence(seconds)) await sync.audioOutput.captureFrame(frame);
  sync.audioOutput.flush();
  return sync.audioOutput.capturedPlayoutSegments;
}

beforeAll(() => initializeLogger({ pretty: false, level: 'silent' }));

describe('playout events belong to their own segment (patched AudioOutput)', () => {
  it('waitForSegmentPlayout gives that segment’s finish event, not the last one', async () => {
    const sink = new RealTimeSink();
    for (const frame of silence(0.05)) await sink.captureFrame(frame);
    sink.flush();
    const first = sink.capturedPlayoutSegments;
    for (const frame of silence(5)) await sink.captureFrame(frame);
    const second = sink.capturedPlayoutSegments;
    const firstEnded = await sink.waitForSegmentPlayout(first);
    sink.clearBuffer();
    const secondEnded = await sink.waitForSegmentPlayout(second);
    expect([first, second]).toEqual([1, 2]);
    expect(firstEnded?.interrupted).toBe(false);
    expect(secondEnded?.interrupted).toBe(true);
    expect(secondEnded?.playbackPosition).toBeLessThan(5);
  });

  it('every concurrent waitForPlayout returns (the shared future left all but one waiting)', async () => {
    const sink = new RealTimeSink();
    for (const frame of silence(0.05)) await sink.captureFrame(frame);
    sink.flush();
    await sink.waitForPlayout();
    for (const frame of silence(0.05)) await sink.captureFrame(frame);
    sink.flush();
    for (const frame of silence(0.05)) await sink.captureFrame(frame);
    // Two waiters at once: one for the segments so far, one registered later for the same target.
    const waiters = [sink.waitForPlayout(), sink.waitForPlayout(), sink.waitForPlayout()];
    sink.flush();
    const events = await Promise.all(waiters);
    expect(events.every((e) => e.interrupted === false)).toBe(true);
  });
});

describe('an interrupted reply commits at once (patched text forwarding)', () => {
  it('a cancelled text forwarding stops waiting for the next text', async () => {
    // The reply's text as it comes from the TTS: the first sentence, then nothing until the TTS goes on.
    const source = new ReadableStream<string>({
      start(controller) {
        controller.enqueue('The first sentence. ');
      },
    });
    const [task, out] = performTextForwarding(source, new AbortController(), null);
    await waitUntil('the first sentence', () => out.text.length > 0);
    // The interrupted path gives each cancel 2 s (REPLY_TASK_CANCEL_TIMEOUT), then commits regardless, late.
    await task.cancelAndWait(2_000);
    expect(task.done).toBe(true);
  });
});

describe('the synchronized transcript of an interrupted reply (patched TranscriptionSynchronizer)', () => {
  const first = 'Alpha bravo charlie.';
  const second =
    'Delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango.';
  const third = 'Uniform victor whiskey xray.';
  let sync: TranscriptionSynchronizer;
  let spoken: TextSink;

  afterEach(async () => {
    await sync?.close();
  });

  function build() {
    spoken = new TextSink();
    sync = new TranscriptionSynchronizer(new RealTimeSink(), spoken);
  }

  it('holds only the words released before the cut-off, of that reply only, and releases none after it', async () => {
    build();
    const one = await sendReply(sync, first, 0.4);
    expect((await sync.audioOutput.waitForSegmentPlayout(one))?.synchronizedTranscript).toBe(first);

    const two = await sendReply(sync, second, 8);
    // Cut (barge-in) once the caller has seen three words of the second reply.
    await waitUntil(
      'three words of the second reply',
      () => spoken.text.slice(first.length).split(' ').length >= 3,
    );
    sync.audioOutput.clearBuffer();
    const cut = await sync.audioOutput.waitForSegmentPlayout(two);
    const heard = cut?.synchronizedTranscript ?? '';
    expect(cut?.interrupted).toBe(true);
    expect(heard.length).toBeGreaterThan(0);
    expect(second.startsWith(heard)).toBe(true);
    expect(heard.length).toBeLessThan(second.length / 2);
    // Nothing more reaches the caller's transcript after the audio stopped (the words are paced by wall clock and
    // kept coming): what they saw is what is saved.
    await new Promise((r) => setTimeout(r, 600));
    expect(spoken.text).toBe(first + heard);
  });

  it('a reply cut before any of its audio played leaves nothing in the next reply’s transcript', async () => {
    build();
    const one = await sendReply(sync, first, 0.3);
    await sync.audioOutput.waitForSegmentPlayout(one);
    // The second reply's text reached the synchronizer, its audio never did: the barge-in came first.
    await sync.textOutput.captureText(second);
    sync.audioOutput.clearBuffer();
    const three = await sendReply(sync, third, 0.3);
    const ended = await sync.audioOutput.waitForSegmentPlayout(three);
    expect(ended?.synchronizedTranscript).toBe(third);
    expect(three).toBe(one + 1);
  });
});

describe('the aligned transcript of the call’s speech (patched StreamAdapter)', () => {
  let standins: ProviderStandins;
  let speech: CallSpeech | undefined;
  beforeAll(async () => {
    standins = await startProviderStandins({ profile: { ttsTtfbMs: 0 } });
  });
  afterAll(async () => {
    await speech?.close();
    await standins.stop();
  });

  it('keeps the space between sentences ("ago. Early", not "ago.Early")', async () => {
    speech = buildCallSpeech(
      standinAgentConfig(standins),
      standinSpeechOptions(standins, new RecordingSpeechObserver()),
    );
    const reply = 'It happened long ago. Early risers saw it first. Nobody forgot.';
    const stream = speech.session.stream();
    for (const word of reply.split(/(?<= )/)) stream.pushText(word);
    stream.endInput();
    let transcript = '';
    for await (const audio of stream) {
      if (audio === tts.SynthesizeStream.END_OF_STREAM) continue;
      const timed = audio.frame.userdata[USERDATA_TIMED_TRANSCRIPT] as voice.TimedString[] | undefined;
      for (const t of timed ?? []) transcript += t.text;
    }
    expect(transcript).toBe(reply);
  });
});
