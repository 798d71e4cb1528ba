import { describe, expect, it } from 'vitest';
import { resample } from '../../../e2e/src/resample.ts';

describe('resample (the caller turns clips of another rate into its own)', () => {
  const input = Int16Array.from([0, 300, -600, 900, 1200, -1500]);

  it('upsampling keeps every input sample in place and interpolates between them', () => {
    const out = resample(input, 16_000, 48_000);
    expect(out.length).toBe(input.length * 3);
    for (let i = 0; i < input.length; i++) expect(out[i * 3]).toBe(input[i]);
    // One third of the way from 300 to -600, then two thirds.
    expect(out[4]).toBe(0);
    expect(out[5]).toBe(-300);
    // Past the last sample it holds the last value (no wrap, no read past the end).
    expect(out.at(-1)).toBe(-1500);
  });

  it('downsampling keeps the length in time', () => {
    const long = new Int16Array(48_000).map((_, i) =>
      Math.round(10_000 * Math.sin((2 * Math.PI * 440 * i) / 48_000)),
    );
    const out = resample(long, 48_000, 16_000);
    expect(out.length).toBe(16_000);
    // A 440 Hz tone stays a 440 Hz tone: 880 sign changes in one second either way.
    const crossings = (a: Int16Array) => a.slice(1).filter((v, i) => v >= 0 !== (a[i] as number) >= 0).length;
    expect(Math.abs(crossings(out) - crossings(long))).toBeLessThanOrEqual(2);
    expect(crossings(long)).toBeGreaterThan(870);
  });

  it('the same rate is a copy', () => {
    expect(Array.from(resample(input, 48_000, 48_000))).toEqual(Array.from(input));
  });
});
