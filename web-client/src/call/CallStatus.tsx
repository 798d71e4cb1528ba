import { type CallState, describePhase } from './call-state.ts';

/** The state in words, announced politely to screen readers as it changes. */
export function CallStatus({ state }: { state: CallState }) {
  const busy =
    state.phase === 'checking-microphone' ||
    state.phase === 'requesting-token' ||
    state.phase === 'connecting' ||
    state.phase === 'waiting-for-agent' ||
    state.phase === 'reconnecting' ||
    state.phase === 'ending';
  return (
    <p
      className={`call-status status-${state.phase}`}
      role="status"
      aria-live="polite"
      data-testid="call-status"
    >
      {busy ? <span className="spinner" aria-hidden="true" /> : null}
      <span>{describePhase(state)}</span>
      {state.muted && state.phase === 'in-call' ? <span className="badge">Microphone muted</span> : null}
    </p>
  );
}
