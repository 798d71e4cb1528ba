import { createRequire } from 'node:module';
import { pausedSpeechClip } from '@voice/devstack/standins/fixtures';
import { QUESTIONS } from './call-rig.ts';
import { EOT_THRESHOLD_EN, predictAfter } from './eot-cost.ts';

/**
 * What the end-of-turn model predicts on the turns benchmark's Flite clips depending on how much trailing silence
 * it hears: 0–250 ms after the speech. The framework asks at 200 ms of VAD silence, which Silero's lag puts
 * ~340 ms after the speech in a call; with the preemptive gate the agent asks at 100 ms (~260 ms after the
 * speech, bench/README.md "Where the gate's ~150 ms went"). `*` marks a "finished" verdict at the English
 * threshold (0.36). Fragments should stay unmarked, whole sentences and questions marked.
 *
 *   npx tsx bench/src/eot-silence.ts
 */
const require = createRequire(import.meta.url);
const eot = require('@livekit/local-inference') as { initEot(): void };

const CASES: Array<{ kind: string; parts: string[]; upTo: number }> = [
  { kind: 'fragment', parts: ["I'd like to know", 'the weather in Lisbon tomorrow.'], upTo: 0 },
  { kind: 'fragment', parts: ['Can you tell me', 'how long to boil an egg?'], upTo: 0 },
  { kind: 'fragment', parts: ['My question is about', 'the train times to Porto.'], upTo: 0 },
  { kind: 'fragment', parts: ['I need eggs', 'milk', 'and some bread.'], upTo: 0 },
  { kind: 'fragment', parts: ['I need eggs', 'milk', 'and some bread.'], upTo: 1 },
  { kind: 'fragment', parts: ['I would like, um', 'a table for two tonight.'], upTo: 0 },
  { kind: 'trailing', parts: ['So what do you think about'], upTo: 0 },
  { kind: 'sentence', parts: ["I'd like to know", 'the weather in Lisbon tomorrow.'], upTo: 1 },
  { kind: 'sentence', parts: ['Can you tell me', 'how long to boil an egg?'], upTo: 1 },
  { kind: 'sentence', parts: ['My question is about', 'the train times to Porto.'], upTo: 1 },
  { kind: 'sentence', parts: ['I need eggs', 'milk', 'and some bread.'], upTo: 2 },
  { kind: 'sentence', parts: ['I would like, um', 'a table for two tonight.'], upTo: 1 },
  ...QUESTIONS.map((q) => ({ kind: 'question', parts: [q], upTo: 0 })),
];
const SILENCES_MS = [0, 50, 100, 150, 200, 250];

async function main(): Promise<void> {
  eot.initEot();
  const lines = [
    `| kind | words | ${SILENCES_MS.map((s) => `${s} ms`).join(' | ')} |`,
    `|---|---|${SILENCES_MS.map(() => '--:').join('|')}|`,
  ];
  for (const { kind, parts, upTo } of CASES) {
    // As the benchmark makes them: the whole sentence synthesised once and cut at the pauses.
    const clip = await pausedSpeechClip(parts, 800, { voice: 'flite:slt', trailSilenceMs: 1000 });
    const cells: string[] = [];
    for (const silenceMs of SILENCES_MS) {
      const p = await predictAfter(clip.samples, clip.partEnds[upTo] ?? 0, silenceMs);
      cells.push(`${p.toFixed(2)}${p >= EOT_THRESHOLD_EN ? '*' : ''}`);
    }
    lines.push(`| ${kind} | ${parts.slice(0, upTo + 1).join(' … ')} | ${cells.join(' | ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
  process.exit(0);
}
