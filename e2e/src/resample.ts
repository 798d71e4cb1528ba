/**
 * Resamples 16-bit mono audio by linear interpolation: exact in time (sample i of the output is at i / to
 * seconds), which the caller's end-of-speech stamp relies on. Enough for speech clips going up (16 → 48 kHz, what
 * the e2e tests do); going down it lets content above the new Nyquist fold back, which no user does today.
 */
export function resample(input: Int16Array, from: number, to: number): Int16Array {
  const ratio = from / to;
  const out = new Int16Array(Math.floor(input.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const pos = i * ratio;
    const i0 = Math.floor(pos);
    const i1 = Math.min(i0 + 1, input.length - 1);
    const frac = pos - i0;
    out[i] = Math.round((input[i0] ?? 0) * (1 - frac) + (input[i1] ?? 0) * frac);
  }
  return out;
}
