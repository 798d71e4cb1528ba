import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchRun } from '../report.ts';
import { cutoffRates } from '../turns.ts';

/**
 * bench/results/latest.json: the headline figures of the benchmarks as one flat object, the same keys in every run,
 * so a dashboard or a reviewer can diff two runs without knowing each benchmark's result shape. A run measures only
 * the benchmarks it was asked for; a figure it did not measure keeps the value of the run that last did, and
 * `measuredIn` names that run's results file (null: never measured).
 */
export const SUMMARY_KEYS = [
  'voice.v2v_p50_ms',
  'voice.v2v_p95_ms',
  'voice.overhead_p50_ms',
  'setup.greeting_p50_ms',
  'setup.greeting_p95_ms',
  'turns.false_cutoff_rate_800',
  'turns.false_cutoff_rate_1200',
  'turns.v2v_p50_ms',
  'turns.v2v_p95_ms',
  'turns.llm_requests_per_turn',
  'turns.tts_requests_per_turn',
  'turns.backchannel_stop_rate',
  'turns.interruption_stop_rate_500ms',
  'density.cpu_per_call_cores',
  'density.rss_per_call_mib',
  'density.pss_per_call_mib',
  'density.calls_on_one_core',
  'token.cpu_ms_per_grant',
  'token.p99_ms_50_clients',
  'token.tokens_per_s_50_clients',
] as const;
export type SummaryKey = (typeof SUMMARY_KEYS)[number];
export type SummaryFigures = Partial<Record<SummaryKey, number>>;

export interface LatestSummary {
  /** The run this file was written by. */
  run: string;
  node: string;
  /** The figures; `node_version` is the Node of the run that wrote this file (figures carried over from older runs
   * may come from another: `measuredOnNode`). */
  summary: Record<SummaryKey, number | null> & { node_version: string };
  measuredIn: Record<SummaryKey, string | null>;
  /** The Node (the agent's) each figure was measured on; null: unknown (measured before this was recorded). */
  measuredOnNode: Record<SummaryKey, string | null>;
}

const finite = (value: number | undefined): number | undefined =>
  value !== undefined && Number.isFinite(value) ? value : undefined;

/** The figures a run measured, by the keys above. A benchmark that adds a figure adds its key and its line here. */
export function runFigures(run: BenchRun): SummaryFigures {
  const figures: SummaryFigures = {};
  const put = (key: SummaryKey, value: number | undefined) => {
    const v = finite(value);
    if (v !== undefined) figures[key] = v;
  };
  put('voice.v2v_p50_ms', run.voice?.voiceToVoiceMs.p50);
  put('voice.v2v_p95_ms', run.voice?.voiceToVoiceMs.p95);
  put('voice.overhead_p50_ms', run.voice?.overheadAboveFloorMs.p50);
  put('setup.greeting_p50_ms', run.setup?.setupMs.p50);
  put('setup.greeting_p95_ms', run.setup?.setupMs.p95);
  if (run.turns) {
    const rates = cutoffRates(run.turns);
    put('turns.false_cutoff_rate_800', rates.upTo800);
    put('turns.false_cutoff_rate_1200', rates.at1200);
    put('turns.v2v_p50_ms', run.turns.cleanV2vMs.p50);
    put('turns.v2v_p95_ms', run.turns.cleanV2vMs.p95);
    put('turns.llm_requests_per_turn', run.turns.llmRequestsPerTurn);
    put('turns.tts_requests_per_turn', run.turns.speechRequestsPerTurn);
    put('turns.backchannel_stop_rate', run.turns.backchannels.rate);
    put('turns.interruption_stop_rate_500ms', run.turns.interruptions.rate);
  }
  const single = run.density?.levels.find((level) => level.calls === 1);
  put('density.cpu_per_call_cores', single?.cpuPerCall);
  put('density.rss_per_call_mib', single?.rssPerCallMiB);
  put('density.pss_per_call_mib', single?.pssPerCallMiB);
  // Only a pinned run measures the agent's core alone; an unpinned one shares both cores with the rig.
  put('density.calls_on_one_core', run.density?.pinning ? run.density.callsOnOneCore : undefined);
  const fifty = run.token?.find((row) => row.connections === 50);
  put('token.p99_ms_50_clients', fifty?.latencyMs.p99);
  put('token.tokens_per_s_50_clients', fifty?.tokensPerSecond);
  // The grant's path only (token service + PostgREST if used + Postgres), not the load generator or the gateway.
  put('token.cpu_ms_per_grant', fifty?.cpuMsPerGrant);
  return figures;
}

/**
 * Merges this run's figures over the previous latest.json and writes it. `node` is the Node the agent ran on (the
 * CPU and memory figures depend on it: Node 20's AsyncLocalStorage promise hooks cost a call ~6 % of its JS time).
 */
export function writeLatestSummary(
  dir: string,
  runFile: string,
  figures: SummaryFigures,
  node: string = process.version,
): LatestSummary {
  const file = path.join(dir, 'latest.json');
  const previous: Partial<LatestSummary> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<LatestSummary>)
    : {};
  const summary = { node_version: node } as LatestSummary['summary'];
  const measuredIn = {} as Record<SummaryKey, string | null>;
  const measuredOnNode = {} as Record<SummaryKey, string | null>;
  for (const key of SUMMARY_KEYS) {
    const value = figures[key];
    if (value !== undefined) {
      summary[key] = value;
      measuredIn[key] = runFile;
      measuredOnNode[key] = node;
    } else {
      summary[key] = previous.summary?.[key] ?? null;
      measuredIn[key] = previous.measuredIn?.[key] ?? null;
      measuredOnNode[key] = previous.measuredOnNode?.[key] ?? null;
    }
  }
  const latest: LatestSummary = { run: runFile, node, summary, measuredIn, measuredOnNode };
  writeFileSync(file, `${JSON.stringify(latest, null, 2)}\n`);
  return latest;
}
