import { useEffect, useRef } from 'react';
import type { CallPhase } from './call-state.ts';

interface Props {
  phase: CallPhase;
  muted: boolean;
  canMute: boolean;
  startLabel: string;
  onStart: () => void;
  onHangUp: () => void;
  onToggleMute: () => void;
}

const STARTABLE: ReadonlySet<CallPhase> = new Set(['idle', 'ended', 'failed']);

export function CallControls({ phase, muted, canMute, startLabel, onStart, onHangUp, onToggleMute }: Props) {
  const hangUpRef = useRef<HTMLButtonElement>(null);
  const startRef = useRef<HTMLButtonElement>(null);
  const startable = STARTABLE.has(phase);
  const previous = useRef(startable);

  // Keep keyboard focus on a control that exists: the call button swaps with hang up and back.
  useEffect(() => {
    if (previous.current === startable) return;
    const hadFocus = document.activeElement === document.body || document.activeElement === null;
    previous.current = startable;
    if (!hadFocus) return;
    (startable ? startRef : hangUpRef).current?.focus();
  }, [startable]);

  if (startable) {
    return (
      <div className="call-controls">
        <button ref={startRef} type="button" className="button button-call" onClick={onStart}>
          <PhoneIcon />
          {phase === 'idle' ? startLabel : 'Call again'}
        </button>
      </div>
    );
  }
  return (
    <div className="call-controls">
      <button
        type="button"
        className="button"
        aria-pressed={muted}
        disabled={!canMute}
        onClick={onToggleMute}
      >
        {muted ? 'Unmute microphone' : 'Mute microphone'}
      </button>
      <button
        ref={hangUpRef}
        type="button"
        className="button button-hangup"
        onClick={onHangUp}
        disabled={phase === 'ending'}
      >
        Hang up
      </button>
    </div>
  );
}

function PhoneIcon() {
  return (
    <svg aria-hidden="true" width="20" height="20" viewBox="0 0 24 24" fill="currentColor" focusable="false">
      <path d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.6a1 1 0 0 1-.25 1z" />
    </svg>
  );
}
