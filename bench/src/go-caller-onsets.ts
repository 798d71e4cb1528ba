import { readFileSync } from 'node:fs';
import OpusScript from 'opusscript';
import { HEARD_RMS } from '../../e2e/src/agent-speech.ts';

/**
 * Calibration of the Go caller's onset detection (bench/go-caller): `npx tsx bench/src/go-caller-onsets.ts TRACE
 * [LOUD_BYTES]` reads a packet trace (GO_CALLER_TRACE=file: call, arrival ms, payload size, payload hex), decodes
 * every agent packet with libopus (opusscript) and finds the agent's speech segments twice, on the same packets
 * and arrival times: by payload size (what the Go caller does) and by decoded loudness (what the rtc-node caller
 * does: RMS > 0.01 per 10 ms block, a block stamped at its packet's arrival minus the audio after it, 600 ms gap).
 * Prints each segment's onset and span both ways. What it leaves out: rtc-node's jitter buffer and playout, which
 * the decode-based caller adds on top (see the v2v comparison in bench/README.md).
 */

const SEGMENT_GAP_MS = 600;
const out = (line: string) => process.stdout.write(`${line}\n`);
const [file, loudArg] = process.argv.slice(2);
if (!file) throw new Error('usage: go-caller-onsets.ts TRACE [LOUD_BYTES]');
const loudBytes = Number(loudArg ?? 80);

interface Segment {
  startedAt: number;
  lastLoudAt: number;
}

function addLoud(segments: Segment[], at: number): void {
  const last = segments.at(-1);
  if (last && at - last.lastLoudAt < SEGMENT_GAP_MS) last.lastLoudAt = Math.max(last.lastLoudAt, at);
  else segments.push({ startedAt: at, lastLoudAt: at });
}

const byCall = new Map<string, Array<{ at: number; size: number; payload: Buffer }>>();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const [call, at, size, hex] = line.split('\t');
  if (!call || !at || !size) continue;
  const list = byCall.get(call) ?? [];
  list.push({ at: Number(at), size: Number(size), payload: Buffer.from(hex ?? '', 'hex') });
  byCall.set(call, list);
}

const block = 480; // 10 ms at 48 kHz
const loudSumOfSquares = (HEARD_RMS * 32_768) ** 2 * block;
const diffs: number[] = [];
const spanDiffs: number[] = [];
for (const [call, packets] of byCall) {
  const decoder = new OpusScript(48_000, 1);
  const bySize: Segment[] = [];
  const byDecode: Segment[] = [];
  for (const p of packets) {
    if (p.size > loudBytes) addLoud(bySize, p.at);
    if (p.payload.length <= 1) continue; // DTX: no audio in it
    const pcm = decoder.decode(p.payload);
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
    for (let start = 0; start + block <= samples.length; start += block) {
      let sum = 0;
      for (let i = start; i < start + block; i++) sum += (samples[i] as number) ** 2;
      if (sum > loudSumOfSquares)
        addLoud(byDecode, p.at - ((samples.length - start - block) / 48_000) * 1000);
    }
  }
  decoder.delete();
  out(
    `call ${call}: ${packets.length} packets; segments by size ${bySize.length}, by decoding ${byDecode.length}`,
  );
  for (const s of bySize) {
    const d = byDecode.reduce<Segment | undefined>(
      (best, x) =>
        !best || Math.abs(x.startedAt - s.startedAt) < Math.abs(best.startedAt - s.startedAt) ? x : best,
      undefined,
    );
    if (!d) continue;
    const onset = s.startedAt - d.startedAt;
    const span = s.lastLoudAt - s.startedAt - (d.lastLoudAt - d.startedAt);
    diffs.push(onset);
    spanDiffs.push(span);
    out(
      `  onset by size - by decoding ${onset.toFixed(1)} ms; span by size ${(s.lastLoudAt - s.startedAt).toFixed(0)} ms, ` +
        `by decoding ${(d.lastLoudAt - d.startedAt).toFixed(0)} ms`,
    );
  }
}
const range = (v: number[]) =>
  v.length ? `${Math.min(...v).toFixed(1)} .. ${Math.max(...v).toFixed(1)} ms (n=${v.length})` : 'none';
out(`onset difference (size - decoded): ${range(diffs)}; span difference: ${range(spanDiffs)}`);
