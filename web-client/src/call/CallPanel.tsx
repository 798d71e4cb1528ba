import { lazy, Suspense, useState } from 'react';
import { CallControls } from './CallControls.tsx';
import { CallStatus } from './CallStatus.tsx';
import { CallTimer } from './CallTimer.tsx';
import { initialCallState, isCallLive } from './call-state.ts';
import { FailureNotice } from './FailureNotice.tsx';
import { LatencyDebug } from './LatencyDebug.tsx';
import { type UseCall, useNow } from './use-call.ts';

interface Props {
  call: UseCall;
  /** The conversation shown beside the panel (undefined = a new one). */
  conversationId: string | undefined;
  onSignInAgain: () => void;
  upgradeUrl: string;
  /** Agent-measured per-turn latency of this call's saved replies (from `messages`), for the debug view. */
  agentLatenciesMs: readonly number[];
  /** False when the last call belongs to another conversation: this one then shows a fresh panel. */
  active: boolean;
}

/** Everything about the call itself: state, visualizer, controls, clock, failures, debug. */
// LiveKit's React components load with the first call, not with the sign-in page.
const LiveRoom = lazy(() => import('./LiveRoom.tsx'));

export function CallPanel({
  call,
  conversationId,
  onSignInAgain,
  upgradeUrl,
  agentLatenciesMs,
  active,
}: Props) {
  const state = active ? call.state : initialCallState;
  const controller = active ? call.controller : undefined;
  const live = isCallLive(state);
  const now = useNow(live || state.phase === 'failed');
  const room = controller?.getRoom();
  // Remembers which call's notice was dismissed, so a new call (new controller) shows its notices again.
  const [dismissed, setDismissed] = useState<unknown>(undefined);

  const showFailure = state.phase === 'failed' && state.failure && dismissed !== controller;
  const inCall =
    state.phase === 'in-call' || state.phase === 'reconnecting' || state.phase === 'waiting-for-agent';

  return (
    <section
      className="call-panel card"
      aria-labelledby="call-heading"
      data-testid="call-panel"
      data-call-phase={state.phase}
      data-agent-state={state.agentActivity ?? ''}
      data-end-reason={state.endReason ?? ''}
      data-failure={state.phase === 'failed' ? state.failure?.kind : ''}
    >
      <h2 id="call-heading" className="visually-hidden">
        Voice call
      </h2>
      <CallStatus state={state} />
      {room && live ? (
        <Suspense fallback={<div className="agent-presence placeholder" aria-hidden="true" />}>
          <LiveRoom room={room} state={state} />
        </Suspense>
      ) : (
        <div className="agent-presence placeholder" aria-hidden="true" />
      )}
      {state.connectedAt !== undefined ? <CallTimer state={state} now={now} /> : null}
      {showFailure && state.failure ? (
        <FailureNotice
          failure={state.failure}
          now={now}
          upgradeUrl={upgradeUrl}
          onRetry={() => call.start(conversationId)}
          onDismiss={() => setDismissed(controller)}
          onSignIn={onSignInAgain}
        />
      ) : null}
      {showFailure ? null : (
        // While a failure notice shows, its own buttons are the way forward (retry, upgrade, sign in).
        <CallControls
          phase={state.phase}
          muted={state.muted}
          canMute={inCall}
          onStart={() => call.start(conversationId)}
          onHangUp={call.hangUp}
          onToggleMute={() => call.setMuted(!state.muted)}
          startLabel={conversationId ? 'Call Claude' : 'Start a new call'}
        />
      )}
      {controller && state.grant ? (
        <LatencyDebug controller={controller} state={state} agentLatenciesMs={agentLatenciesMs} />
      ) : null}
    </section>
  );
}
