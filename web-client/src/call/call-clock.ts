import type { CallGrant } from './call-state.ts';

/** Elapsed time and what is left, derived from the token response's limits. Pure: `now` is passed in. */
export interface CallClock {
  elapsedSeconds: number;
  /** Seconds until this call hits its maximum length. */
  callSecondsLeft?: number;
  /** Minutes left this month after this call so far (never below 0). */
  monthlyMinutesLeft?: number;
}

export function computeCallClock(
  grant: CallGrant | undefined,
  connectedAt: number | undefined,
  now: number,
): CallClock {
  const elapsedSeconds = connectedAt === undefined ? 0 : Math.max(0, Math.floor((now - connectedAt) / 1000));
  if (!grant) return { elapsedSeconds };
  const { max_call_seconds, monthly_minutes_max, monthly_minutes_used } = grant.limits;
  return {
    elapsedSeconds,
    callSecondsLeft: Math.max(0, max_call_seconds - elapsedSeconds),
    monthlyMinutesLeft: Math.max(
      0,
      Math.floor(monthly_minutes_max - monthly_minutes_used - elapsedSeconds / 60),
    ),
  };
}

export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** Spoken-friendly version for screen readers, e.g. "2 minutes 5 seconds". */
export function formatDurationWords(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const minutes = Math.floor(s / 60);
  const seconds = s % 60;
  const parts: string[] = [];
  if (minutes > 0) parts.push(`${minutes} minute${minutes === 1 ? '' : 's'}`);
  if (seconds > 0 || minutes === 0) parts.push(`${seconds} second${seconds === 1 ? '' : 's'}`);
  return parts.join(' ');
}
