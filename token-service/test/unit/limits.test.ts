import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.ts';
import { type ClaimResult, toGrantOrThrow } from '../../src/limits.ts';

const base: Omit<ClaimResult, 'code'> = {
  tier: 'studio',
  concurrent_in_use: 3,
  concurrent_max: 3,
  issued_last_minute: 3,
  monthly_seconds_used: 600,
  monthly_seconds_max: 36_000,
};

describe('claim decision → API answer', () => {
  it.each([
    ['VOICE_DISABLED', 503, undefined],
    ['TIER_REQUIRED', 403, undefined],
    ['CONVERSATION_NOT_FOUND', 404, undefined],
    ['SESSION_LIMIT', 429, 7],
    ['RATE_LIMITED', 429, 42],
    ['QUOTA_EXCEEDED', 403, 86_400],
  ] as const)('%s → %i', (code, status, retry) => {
    let caught: unknown;
    try {
      toGrantOrThrow({ ...base, code, ...(retry ? { retry_after_seconds: retry } : {}) });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ApiError);
    const apiError = caught as ApiError;
    expect(apiError).toMatchObject({ status, code });
    if (status === 429 || status === 503) expect(apiError.retryAfterSeconds).toBeGreaterThan(0);
    if (retry) expect(apiError.retryAfterSeconds).toBe(retry);
  });

  it('tells a non-Studio user to upgrade', () => {
    expect(() => toGrantOrThrow({ ...base, code: 'TIER_REQUIRED' })).toThrow(/upgrade/i);
  });

  it('returns the granted session and the limits as they stand', () => {
    const session = {
      id: randomUUID(),
      room_name: 'voice-x',
      conversation_id: randomUUID(),
      expires_at: new Date().toISOString(),
      max_call_seconds: 1800,
    };
    expect(toGrantOrThrow({ ...base, code: 'OK', concurrent_in_use: 1, session })).toEqual({
      session,
      concurrentInUse: 1,
      concurrentMax: 3,
      monthlySecondsUsed: 600,
      monthlySecondsMax: 36_000,
    });
  });

  it('never grants an OK without a session', () => {
    expect(() => toGrantOrThrow({ ...base, code: 'OK' })).toThrow();
  });
});
