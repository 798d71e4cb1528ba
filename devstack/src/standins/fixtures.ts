import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fliteWithSegments, hasEspeak, hasFlite, synthesizeSpeech } from './espeak.ts';
import {
  DEFAULT_SPEECH_DETECTOR,
  detectUtterances,
  frameRms,
  type SpeechDetectorOptions,
} from './speech-detector.ts';
import type { SttUtterance } from './stt-script.ts';
import { readWav, wavHeader } from './wav.ts';

/**
 * Speech fixtures for tests and benchmarks, generated reproducibly with espeak-ng + sox (deterministic: `sox
 * -D`) into a cache directory, so nothing binary is committed. Each clip is a mono 16-bit WAV with silence
 * before and after the speech (enough after it for the Deepgram stand-in to call the end of the utterance).
 * The WAV path suits Chromium's fake microphone; the samples suit an AudioFrame source.
 */
export interface SpeechClip {
  text: string;
  path: string;
  sampleRate: number;
  samples: Int16Array;
  durationSeconds: number;
  /** Span of the first detected utterance (first to last voiced frame), as the Deepgram stand-in measures it. */
  speechSeconds: number;
  /** Every utterance the stand-in would detect in this clip (stream seconds). */
  utterances: Array<{ start: number; end: number }>;
}

export interface SpeechClipOptions {
  /** 16000 (Deepgram's usual input) by default; 48000 for WebRTC sources. */
  sampleRate?: number;
  leadSilenceMs?: number;
  trailSilenceMs?: number;
  /** espeak-ng voice (default `en-us`). */
  voice?: string;
}

export function fixtureDir(): string {
  const dir = process.env.VOICECALL_FIXTURE_DIR ?? join(tmpdir(), 'voicecall-speech-fixtures');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function speechClip(text: string, options: SpeechClipOptions = {}): Promise<SpeechClip> {
  const sampleRate = options.sampleRate ?? 16_000;
  const lead = options.leadSilenceMs ?? 300;
  const trail = options.trailSilenceMs ?? 1500;
  const voice = options.voice ?? 'en-us';
  const engine = engineFor(voice);
  const key = createHash('sha256')
    .update(JSON.stringify([engine, text, sampleRate, lead, trail, voice]))
    .digest('hex');
  const path = join(fixtureDir(), `speech-${key.slice(0, 16)}-${sampleRate}.wav`);
  if (!exists(path)) {
    const speech = await synthesizeSpeech(text, { sampleRate, voice });
    const pad = (ms: number) => Buffer.alloc(Math.round((sampleRate * ms) / 1000) * 2);
    writeWavAtomically(path, Buffer.concat([pad(lead), speech, pad(trail)]), sampleRate);
  }
  return loadClip(path, text);
}

/**
 * A caller who pauses mid-sentence: the parts joined by exact silences (`pausesMs[i]` between part i and i+1; one
 * number for every gap). Each part is trimmed to its voiced span first, so a pause is the silence a listener hears,
 * not the synthesiser's own padding plus ours. With a Flite voice the whole sentence is synthesised once and cut at
 * the parts' word boundaries (from Flite's phone timings), so a part keeps the rising, unfinished prosody of the
 * middle of a sentence, as when a person pauses; espeak-ng parts are synthesised one by one (each ends like a
 * sentence). `text` is the whole sentence; `parts` what was said
 * between the pauses (the transcripts Deepgram would finalize one by one); `partEnds` where each part's speech
 * ends in the clip (seconds), the moment an agent that answers early would cut the caller off.
 */
export interface PausedSpeechClip extends SpeechClip {
  parts: string[];
  pausesMs: number[];
  partEnds: number[];
}

export async function pausedSpeechClip(
  parts: string[],
  pausesMs: number | number[],
  options: SpeechClipOptions = {},
): Promise<PausedSpeechClip> {
  const sampleRate = options.sampleRate ?? 16_000;
  const lead = options.leadSilenceMs ?? 300;
  const trail = options.trailSilenceMs ?? 1500;
  const voice = options.voice ?? 'en-us';
  const gaps = parts.slice(1).map((_, i) => (Array.isArray(pausesMs) ? (pausesMs[i] ?? 0) : pausesMs));
  const engine = engineFor(voice);
  const key = createHash('sha256')
    .update(JSON.stringify(['paused-2', engine, parts, gaps, sampleRate, lead, trail, voice]))
    .digest('hex');
  const path = join(fixtureDir(), `paused-${key.slice(0, 16)}-${sampleRate}.wav`);
  const pad = (ms: number) => Buffer.alloc(Math.round((sampleRate * ms) / 1000) * 2);
  const spoken =
    voice.startsWith('flite:') && hasFlite() && hasEspeak()
      ? (await cutSentence(parts, voice.slice('flite:'.length), sampleRate)).map((pcm) =>
          trimToVoice(pcm, sampleRate),
        )
      : await Promise.all(
          parts.map(async (part) =>
            trimToVoice(await synthesizeSpeech(part, { sampleRate, voice }), sampleRate),
          ),
        );
  const partEnds: number[] = [];
  let cursor = pad(lead).length;
  const pieces: Buffer[] = [pad(lead)];
  spoken.forEach((speech, i) => {
    if (i > 0) {
      const gap = pad(gaps[i - 1]!);
      pieces.push(gap);
      cursor += gap.length;
    }
    pieces.push(speech);
    cursor += speech.length;
    partEnds.push(cursor / 2 / sampleRate);
  });
  pieces.push(pad(trail));
  if (!exists(path)) writeWavAtomically(path, Buffer.concat(pieces), sampleRate);
  return { ...loadClip(path, parts.join(' ')), parts, pausesMs: gaps, partEnds };
}

/** What will actually speak a voice (part of a clip's cache key: a missing engine gives different audio). */
function engineFor(voice: string): string {
  if (!hasEspeak()) return 'tones';
  return voice.startsWith('flite:') && !hasFlite() ? 'espeak' : 'speech';
}

/**
 * The whole sentence from Flite, cut where each part's last phone ends: part i's phones are counted by
 * synthesising it alone (Flite's lexicon gives the same phones for the same words).
 */
async function cutSentence(parts: string[], voice: string, sampleRate: number): Promise<Buffer[]> {
  const whole = await fliteWithSegments(parts.join(' '), voice, sampleRate);
  const phones = whole.segments.filter((s) => s.phone !== 'pau');
  const cuts: number[] = [];
  let counted = 0;
  for (const part of parts.slice(0, -1)) {
    const alone = await fliteWithSegments(part, voice, sampleRate);
    counted += alone.segments.filter((s) => s.phone !== 'pau').length;
    const end = phones[counted - 1]?.end;
    if (end === undefined) throw new Error(`cannot find the end of "${part}" in Flite's timings`);
    cuts.push(Math.round(end * sampleRate) * 2);
  }
  const bounds = [0, ...cuts, whole.pcm.length];
  return bounds.slice(1).map((end, i) => whole.pcm.subarray(bounds[i], end));
}

/** Cuts leading and trailing low-level audio (10 ms frames below the speech detector's threshold). */
function trimToVoice(pcm: Buffer, sampleRate: number): Buffer {
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
  const frame = Math.round(sampleRate / 100);
  const voiced = (start: number) =>
    frameRms(samples.subarray(start, start + frame)) > DEFAULT_SPEECH_DETECTOR.thresholdRms;
  let first = 0;
  while (first < samples.length && !voiced(first)) first += frame;
  let last = samples.length - frame;
  while (last > first && !voiced(last)) last -= frame;
  if (first >= samples.length) return pcm;
  return Buffer.from(pcm.subarray(first * 2, Math.min(samples.length, last + frame) * 2));
}

/** Digital silence (what a muted microphone sends); the stand-in must produce no transcript for it. */
export async function silenceClip(seconds = 3, sampleRate = 16_000): Promise<SpeechClip> {
  const path = join(fixtureDir(), `silence-${seconds}s-${sampleRate}.wav`);
  if (!exists(path)) writeWavAtomically(path, Buffer.alloc(Math.round(seconds * sampleRate) * 2), sampleRate);
  return loadClip(path, '');
}

/**
 * An STT script that recognises known clips by the length of the detected utterance: pass it to
 * `configure({ sttScript })`. Clips closer than the tolerance to each other are ambiguous; pick texts of
 * clearly different length. Unknown durations fall through to the default "simulated transcript N".
 */
export function transcriptByDuration(
  clips: SpeechClip[],
  toleranceSeconds = 0.25,
): (utterance: SttUtterance) => string | undefined {
  return (utterance) => {
    let best: SpeechClip | undefined;
    for (const clip of clips) {
      const distance = Math.abs(clip.speechSeconds - utterance.speechSeconds);
      if (
        distance <= toleranceSeconds &&
        (!best || distance < Math.abs(best.speechSeconds - utterance.speechSeconds))
      ) {
        best = clip;
      }
    }
    return best?.text;
  };
}

function loadClip(
  path: string,
  text: string,
  detector: SpeechDetectorOptions = DEFAULT_SPEECH_DETECTOR,
): SpeechClip {
  const { sampleRate, samples } = readWav(path);
  const utterances = detectUtterances(samples, sampleRate, detector).map(({ start, end }) => ({
    start,
    end,
  }));
  const first = utterances[0];
  return {
    text,
    path,
    sampleRate,
    samples,
    durationSeconds: samples.length / sampleRate,
    speechSeconds: first ? first.end - first.start : 0,
    utterances,
  };
}

function exists(path: string): boolean {
  try {
    return statSync(path).size > 44;
  } catch {
    return false;
  }
}

/** Parallel test files may generate the same clip: write aside, then rename over (atomic on one filesystem). */
function writeWavAtomically(path: string, pcm: Buffer, sampleRate: number): void {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temp, Buffer.concat([wavHeader(pcm.length, sampleRate), pcm]));
  renameSync(temp, path);
}
