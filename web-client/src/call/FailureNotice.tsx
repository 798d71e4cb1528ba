import { useEffect, useRef } from 'react';
import { type CallFailure, describeFailure, formatWait } from './call-failures.ts';

interface Props {
  failure: CallFailure;
  now: number;
  upgradeUrl: string;
  onRetry: () => void;
  onDismiss: () => void;
  onSignIn: () => void;
}

/** A failure in words with a way forward; focused when it appears so keyboard and screen reader users land on it. */
export function FailureNotice({ failure, now, upgradeUrl, onRetry, onDismiss, onSignIn }: Props) {
  const description = describeFailure(failure, now);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  const waitSeconds = description.retryAt !== undefined ? Math.ceil((description.retryAt - now) / 1000) : 0;

  return (
    <div
      ref={ref}
      className="notice notice-error"
      role="alert"
      tabIndex={-1}
      data-testid="call-failure"
      data-failure-tag={description.tag}
    >
      <h3>{description.title}</h3>
      <p>{description.body}</p>
      <div className="notice-actions">
        {description.actions.includes('upgrade') ? (
          <a className="button button-primary" href={upgradeUrl}>
            See the Studio plan
          </a>
        ) : null}
        {description.actions.includes('sign-in') ? (
          <button type="button" className="button button-primary" onClick={onSignIn}>
            Sign in again
          </button>
        ) : null}
        {description.actions.includes('retry') ? (
          <button
            type="button"
            className="button button-primary"
            onClick={onRetry}
            disabled={waitSeconds > 0}
          >
            {waitSeconds > 0 ? `Try again in ${formatWait(waitSeconds)}` : 'Try again'}
          </button>
        ) : null}
        {description.actions.includes('microphone-help') ? (
          <details className="mic-help">
            <summary>How do I allow the microphone?</summary>
            <p>
              Click the lock or settings icon next to the address, set <em>Microphone</em> to <em>Allow</em>,
              then press Try again. On a phone, check the browser’s permission in the system settings too.
            </p>
          </details>
        ) : null}
        {description.actions.includes('dismiss') ? (
          <button type="button" className="button button-quiet" onClick={onDismiss}>
            Dismiss
          </button>
        ) : null}
      </div>
    </div>
  );
}
