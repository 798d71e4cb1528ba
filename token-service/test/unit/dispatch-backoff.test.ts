import { describe, expect, it } from 'vitest';
import { nextCheckSeconds } from '../../src/dispatch-watchdog.ts';

describe('dispatch watchdog backoff', () => {
  it('looks again after 1, 1, 2, 4, 8, 8 s as dispatches repeat', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((attempts) => nextCheckSeconds(attempts, 60))).toEqual([
      1, 1, 2, 4, 8, 8, 8,
    ]);
  });

  it('never looks past the deadline, and never spins', () => {
    expect(nextCheckSeconds(4, 3)).toBe(3);
    expect(nextCheckSeconds(4, 0)).toBe(0.2);
    expect(nextCheckSeconds(4, -5)).toBe(0.2);
  });
});
