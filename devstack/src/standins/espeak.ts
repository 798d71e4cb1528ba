import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@voice/core';

/**
 * Speech audio from text with espeak-ng piped through sox (Debian packages; `.ci/run` installs them):
 * raw mono s16le at the requested rate. `sox -D` turns dithering off so the same text gives the same bytes.
 * Text goes through stdin, never a shell or argv, so any input is safe. Without espeak-ng/sox the caller gets
 * tone bursts instead (one per word), clearly not speech, and a warning once.
 */
export interface SynthesisOptions {
  sampleRate: number;
  /** OpenAI speed (0.25–4): scales espeak-ng's 175 words per minute. */
  speed?: number;
  /**
   * espeak-ng voice, e.g. `en-us` or `en-us+f3`; or `flite:<voice>` (e.g. `flite:slt`) for Flite, whose prosody
   * an audio end-of-turn model reads (it hears espeak-ng's flat sentence ends as unfinished: see
   * bench/README.md, turns). Without flite installed, falls back to espeak-ng with a warning.
   */
  voice?: string;
}

let fliteAvailable: boolean | undefined;

export function hasFlite(): boolean {
  fliteAvailable ??= spawnSync('flite', ['-lv'], { stdio: 'ignore' }).status === 0;
  return fliteAvailable;
}

const log = createLogger({ name: 'provider-standins' });
let espeakAvailable: boolean | undefined;

export function hasEspeak(): boolean {
  if (espeakAvailable === undefined) {
    const espeak = spawnSync('espeak-ng', ['--version'], { stdio: 'ignore' });
    const sox = spawnSync('sox', ['--version'], { stdio: 'ignore' });
    espeakAvailable = espeak.status === 0 && sox.status === 0;
    if (!espeakAvailable) {
      log.warn(
        'espeak-ng or sox is missing: simulated speech is tone bursts, not words (apt-get install espeak-ng sox)',
      );
    }
  }
  return espeakAvailable;
}

export async function synthesizeSpeech(text: string, options: SynthesisOptions): Promise<Buffer> {
  if (!hasEspeak()) return toneBursts(text, options.sampleRate);
  if (options.voice?.startsWith('flite:')) {
    if (hasFlite())
      return synthesizeWithFlite(text, options.voice.slice('flite:'.length), options.sampleRate);
    log.warn('flite is missing: caller speech falls back to espeak-ng (apt-get install flite)');
    return synthesizeSpeech(text, { ...options, voice: undefined });
  }
  const wordsPerMinute = Math.round(175 * Math.min(4, Math.max(0.25, options.speed ?? 1)));
  const espeak = spawn(
    'espeak-ng',
    ['--stdout', '--stdin', '-s', String(wordsPerMinute), '-v', options.voice ?? 'en-us'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const sox = spawn(
    'sox',
    [
      '-D',
      '-t',
      'wav',
      '-',
      '-t',
      'raw',
      '-r',
      String(options.sampleRate),
      '-e',
      'signed-integer',
      '-b',
      '16',
      '-c',
      '1',
      '-L',
      '-',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  espeak.stdout.pipe(sox.stdin);
  // espeak-ng reads stdin line by line; one line keeps it one utterance.
  espeak.stdin.end(`${text.replace(/[\r\n]+/g, ' ')}\n`);
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  sox.stdout.on('data', (c: Buffer) => chunks.push(c));
  sox.stderr.on('data', (c: Buffer) => errors.push(c));
  espeak.stderr.on('data', (c: Buffer) => errors.push(c));
  const exit = (child: ReturnType<typeof spawn>) =>
    new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code ?? -1));
    });
  const [espeakCode, soxCode] = await Promise.all([exit(espeak), exit(sox)]);
  if (espeakCode !== 0 || soxCode !== 0) {
    throw new Error(
      `espeak-ng/sox failed (${espeakCode}/${soxCode}): ${Buffer.concat(errors).toString().slice(0, 300)}`,
    );
  }
  return Buffer.concat(chunks);
}

/** The no-espeak fallback: a 440 Hz burst per word (0.25 s) and 0.1 s gaps, at 30% of full scale. */
export function toneBursts(text: string, sampleRate: number): Buffer {
  const words = Math.max(1, text.split(/\s+/).filter(Boolean).length);
  const burst = Math.round(sampleRate * 0.25);
  const gap = Math.round(sampleRate * 0.1);
  const out = Buffer.alloc(words * (burst + gap) * 2);
  for (let w = 0; w < words; w++) {
    const offset = w * (burst + gap);
    for (let i = 0; i < burst; i++) {
      out.writeInt16LE(
        Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)),
        (offset + i) * 2,
      );
    }
  }
  return out;
}

/**
 * Flite (Debian `flite`) into a temporary WAV, resampled by sox like espeak-ng's output. The text is one argv entry
 * of a spawned process (no shell), so any input is safe. Deterministic, like espeak-ng with `sox -D`.
 */
async function synthesizeWithFlite(text: string, voice: string, sampleRate: number): Promise<Buffer> {
  return (await fliteWithSegments(text, voice, sampleRate)).pcm;
}

/**
 * Flite speech with its phone segments (`-psdur`: each phone and the time it ends, seconds): where words end, to
 * cut a sentence at a word boundary and keep the prosody around the cut (see fixtures' pausedSpeechClip).
 */
export async function fliteWithSegments(
  text: string,
  voice: string,
  sampleRate: number,
): Promise<{ pcm: Buffer; segments: Array<{ phone: string; end: number }> }> {
  const dir = await mkdtemp(join(tmpdir(), 'flite-'));
  const wav = join(dir, 'speech.wav');
  try {
    const printed = await run('flite', [
      '-voice',
      voice,
      '-psdur',
      '-t',
      text.replace(/[\r\n]+/g, ' '),
      '-o',
      wav,
    ]);
    const segments = printed
      .toString()
      .trim()
      .split(/\s+/)
      .flatMap((entry) => {
        const at = entry.lastIndexOf(':');
        const end = Number(entry.slice(at + 1));
        return at > 0 && Number.isFinite(end) ? [{ phone: entry.slice(0, at), end }] : [];
      });
    const pcm = await run('sox', [
      '-D',
      wav,
      '-t',
      'raw',
      '-r',
      String(sampleRate),
      '-e',
      'signed-integer',
      '-b',
      '16',
      '-c',
      '1',
      '-L',
      '-',
    ]);
    return { pcm, segments };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new Error(`${command} failed (${code}): ${Buffer.concat(err).toString().slice(0, 300)}`)),
    );
  });
}
