import { describe, expect, it } from 'vitest';
import { callsOnOneCore, type DensityLevel, oneCoreShortfall } from '../../src/density.ts';
import { parsePinning } from '../../src/lib/pinning.ts';
import { summarize } from '../../src/lib/stats.ts';

/** A level with the fields the one-core bound reads; the rest is irrelevant here. */
function level(calls: number, p95Turns: number[], extra: Partial<DensityLevel> = {}): DensityLevel {
  return {
    calls,
    completedCalls: calls,
    turns: p95Turns.length,
    voiceToVoiceMs: summarize(p95Turns),
    underruns: 0,
    failures: [],
    ...extra,
  } as DensityLevel;
}

describe('calls on one core', () => {
  it('is the largest level whose p95 stays within 1.3 × the single call and which completed without underruns', () => {
    const levels = [level(1, [1000]), level(2, [1250]), level(3, [1300]), level(4, [1400])];
    expect(oneCoreShortfall(levels[3] as DensityLevel, 1000)).toBe('v2v p95 1400 ms > 1300 ms');
    expect(callsOnOneCore(levels)).toBe(3);
  });

  it('stops at the first level that misses the bound, even if a larger one passes again', () => {
    const levels = [level(1, [1000]), level(2, [1000], { underruns: 1 }), level(3, [1000])];
    expect(callsOnOneCore(levels)).toBe(1);
  });

  it('counts a level with a failed call as missed', () => {
    const levels = [level(1, [1000]), level(2, [1000], { completedCalls: 1 })];
    expect(oneCoreShortfall(levels[1] as DensityLevel, 1000)).toBe('1 calls failed');
    expect(callsOnOneCore(levels)).toBe(1);
  });

  it('has no answer without the single-call level', () => {
    expect(callsOnOneCore([level(2, [1000])])).toBeUndefined();
  });
});

describe('--pin', () => {
  it('reads RIG:AGENT CPU lists or off', () => {
    expect(parsePinning('0:1')).toEqual({ rig: '0', agent: '1' });
    expect(parsePinning('off')).toBeUndefined();
    expect(() => parsePinning('1')).toThrow(/RIG:AGENT/);
  });
});
