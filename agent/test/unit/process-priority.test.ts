import { describe, expect, it } from 'vitest';
import { canRaisePriority } from '../../src/process-priority.ts';

const status = (capEff: string) =>
  `Name:\tnode\nUid:\t1000\t1000\t1000\t1000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

describe('canRaisePriority', () => {
  it('is true for root', () => {
    expect(canRaisePriority(status('0000000000000000'), 0)).toBe(true);
  });

  it('is true for a user holding CAP_SYS_NICE (bit 23) in its effective set', () => {
    expect(canRaisePriority(status('0000000000800000'), 1000)).toBe(true);
    expect(canRaisePriority(status('000001ffffffffff'), 1000)).toBe(true);
  });

  it('is false for an unprivileged user, or when the capabilities cannot be read', () => {
    expect(canRaisePriority(status('0000000000000000'), 1000)).toBe(false);
    expect(canRaisePriority(status('00000000a80425fb'), 1000)).toBe(false); // Docker's default set: no SYS_NICE
    expect(canRaisePriority('', 1000)).toBe(false);
  });
});
