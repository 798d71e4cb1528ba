import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { pausedSpeechClip } from '@voice/devstack/standins/fixtures';
import { readWav } from '@voice/devstack/standins/wav';

/**
 * The agent's end-of-turn model (LiveKit's turn-detector-v1-mini, run by @livekit/local-inference in the worker's
 * inference process): CPU per prediction, and what it predicts on the synthetic callers the benchmarks use.
 * The framework asks for one prediction per pause of the caller (after 200 ms of VAD silence), on the last
 * seconds of audio; the model reads at most 1.2 s (19 200 samples at 16 kHz).
 *
 *   npx tsx bench/src/eot-cost.ts [--predictions 60]
 *
 * Prints CPU ms per prediction (process CPU: the model runs on libuv's pool threads, which cpuUsage counts) and
 * a table of probabilities: finished questions should score above the English threshold (0.36), fragments
 * ("I'd like to know", "I need eggs, milk, and") below it, 200 ms into the pause. Then the same for each pause of
 * a real recording (bench/fixtures/README.md): only its last pause is the end of the speaker's turn.
 */
const require = createRequire(import.meta.url);
const eot = require('@livekit/local-inference') as {
  initEot(): void;
  predict(pcm: Int16Array): Promise<number>;
};

export const EOT_THRESHOLD_EN = 0.36; // LOCAL_LANGUAGES.en in @livekit/agents inference/eot/languages
const WINDOW = 19_200;

export const FINISHED = [
  'What is the capital of France?',
  'How far away is the moon tonight?',
  "I'd like to know the weather in Lisbon.",
  'Why is the sky blue during the day?',
];
export const UNFINISHED = [
  "I'd like to know",
  'Can you tell me about',
  'I need eggs, milk, and',
  'So the thing is',
];

/** The model's probability that the turn ended, `pauseMs` into the silence after the clip's speech. */
export async function predictAfter(samples: Int16Array, speechEnd: number, pauseMs: number): Promise<number> {
  const end = Math.round((speechEnd + pauseMs / 1000) * 16_000);
  const window = new Int16Array(WINDOW);
  const from = Math.max(0, end - WINDOW);
  window.set(samples.subarray(from, end), WINDOW - (end - from));
  return eot.predict(window);
}

async function main(): Promise<void> {
  const predictionsArg = process.argv.indexOf('--predictions');
  const predictions = predictionsArg > 0 ? Number(process.argv[predictionsArg + 1]) : 60;
  const loadStart = performance.now();
  eot.initEot();
  process.stdout.write(`model load: ${Math.round(performance.now() - loadStart)} ms\n`);

  const voices = ['en-us', 'flite:slt'];
  const rows: string[] = [];
  let correct = 0;
  let total = 0;
  for (const voice of voices) {
    for (const [kind, texts] of [
      ['finished', FINISHED],
      ['unfinished', UNFINISHED],
    ] as const) {
      for (const text of texts) {
        const clip = await pausedSpeechClip([text], 0, { voice, trailSilenceMs: 1000 });
        const p = await predictAfter(clip.samples, clip.partEnds[0]!, 200);
        const right = kind === 'finished' ? p >= EOT_THRESHOLD_EN : p < EOT_THRESHOLD_EN;
        if (voice !== 'en-us') {
          correct += right ? 1 : 0;
          total += 1;
        }
        rows.push(`| ${voice} | ${kind} | ${text} | ${p.toFixed(2)} | ${right ? 'yes' : 'no'} |`);
      }
    }
  }
  process.stdout.write(
    `\n| voice | kind | text | p(end) at 200 ms | judged right |\n|---|---|---|---|---|\n`,
  );
  process.stdout.write(`${rows.join('\n')}\n`);
  process.stdout.write(`flite:slt judged right: ${correct}/${total}\n`);

  process.stdout.write(`\n${(await recordedPauses()).join('\n')}\n`);

  const clip = await pausedSpeechClip([FINISHED[0]!], 0, { voice: 'flite:slt' });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < predictions; i++) await predictAfter(clip.samples, clip.partEnds[0]!, 200);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / predictions;
  const wallMs = (performance.now() - wall0) / predictions;
  process.stdout.write(
    `\nper prediction (${predictions}, sequential): ${cpuMs.toFixed(1)} CPU ms, ${wallMs.toFixed(1)} ms wall\n`,
  );
}

const RECORDING = fileURLToPath(new URL('../fixtures/jfk-inaugural-1961-16k.wav', import.meta.url));
/** Above the recording's hiss (~0.01 RMS), below its quietest words. */
const RECORDING_VOICE_RMS = 0.03;
const RECORDING_MIN_PAUSE_MS = 400;

/** Table rows: each pause of the recording ≥ 400 ms and its end, with the model's probability 200 and 400 ms in. */
export async function recordedPauses(): Promise<string[]> {
  const { sampleRate, samples } = readWav(RECORDING);
  if (sampleRate !== 16_000) throw new Error(`${RECORDING}: ${sampleRate} Hz, the model reads 16 kHz`);
  const frame = 320; // 20 ms
  const voiced: boolean[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += (samples[j]! / 32768) ** 2;
    voiced.push(Math.sqrt(sum / frame) >= RECORDING_VOICE_RMS);
  }
  // Ends of speech followed by a pause of at least RECORDING_MIN_PAUSE_MS (or by the end of the recording).
  const ends: Array<{ at: number; pauseMs: number }> = [];
  const lastVoiced = voiced.lastIndexOf(true);
  for (let f = 1; f <= lastVoiced + 1; f++) {
    if (!voiced[f - 1] || voiced[f]) continue;
    let g = f;
    while (g < voiced.length && !voiced[g]) g++;
    const pauseMs = (g - f) * 20;
    if (g >= voiced.length || pauseMs >= RECORDING_MIN_PAUSE_MS)
      ends.push({ at: (f * frame) / sampleRate, pauseMs });
  }
  const rows = [
    '| recording: speech ends at | pause after it | p(end) at 200 ms | at 400 ms | turn really ended |',
  ];
  rows.push('|--:|--:|--:|--:|---|');
  for (const [i, end] of ends.entries()) {
    const last = i === ends.length - 1;
    const p200 = await predictAfter(samples, end.at, 200);
    const p400 = await predictAfter(samples, end.at, 400);
    rows.push(
      `| ${end.at.toFixed(2)} s | ${last ? 'end' : `${end.pauseMs} ms`} | ${p200.toFixed(2)} | ${p400.toFixed(2)} | ${last ? 'yes' : 'no'} |`,
    );
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
  process.exit(0);
}
