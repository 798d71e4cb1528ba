import { computeCallClock, formatDuration, formatDurationWords } from './call-clock.ts';
import type { CallState } from './call-state.ts';

/** Elapsed time, time left in this call and minutes left this month (from the token response's limits). */
export function CallTimer({ state, now }: { state: CallState; now: number }) {
  const end = state.endedAt ?? now;
  const clock = computeCallClock(state.grant, state.connectedAt, end);
  const lowTime =
    clock.callSecondsLeft !== undefined && clock.callSecondsLeft <= 60 && state.phase === 'in-call';
  return (
    <dl className="call-timer" data-testid="call-timer">
      <div>
        <dt>Elapsed</dt>
        <dd>
          <Duration seconds={clock.elapsedSeconds} />
        </dd>
      </div>
      {clock.callSecondsLeft !== undefined ? (
        <div className={lowTime ? 'warn' : undefined}>
          <dt>Left in this call</dt>
          <dd>
            <Duration seconds={clock.callSecondsLeft} />
          </dd>
        </div>
      ) : null}
      {clock.monthlyMinutesLeft !== undefined ? (
        <div>
          <dt>Minutes left this month</dt>
          <dd data-testid="monthly-minutes-left">{clock.monthlyMinutesLeft}</dd>
        </div>
      ) : null}
    </dl>
  );
}

/** Digits for the eye, words for screen readers ("2 minutes 5 seconds" rather than "2 colon 05"). */
function Duration({ seconds }: { seconds: number }) {
  return (
    <>
      <span aria-hidden="true">{formatDuration(seconds)}</span>
      <span className="visually-hidden">{formatDurationWords(seconds)}</span>
    </>
  );
}
