/**
 * Accumulates the received agent audio level (0..1 samples from an AnalyserNode) so the page can report, for users
 * and for the browser test, that sound actually arrived — not only that a track was subscribed.
 */
export const AUDIBLE_LEVEL = 0.02;

export class AudioLevelStats {
  peak = 0;
  current = 0;
  audibleMs = 0;

  add(level: number, intervalMs: number): void {
    this.current = level;
    if (level > this.peak) this.peak = level;
    if (level >= AUDIBLE_LEVEL) this.audibleMs += intervalMs;
  }
}
