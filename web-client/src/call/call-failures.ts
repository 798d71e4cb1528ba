import type { TokenErrorCode } from '@voice/core/token-api';

/** Everything that can stop a call from starting or end it abnormally, in the user's terms. */
export type CallFailure =
  | { kind: 'not-signed-in' }
  | {
      kind: 'token-rejected';
      code: TokenErrorCode | 'UNKNOWN';
      status: number;
      message: string;
      /** Epoch ms after which a retry makes sense (from retry_after_seconds / Retry-After). */
      retryAt?: number;
    }
  | { kind: 'token-service-unreachable' }
  | { kind: 'microphone'; reason: 'permission-denied' | 'not-found' | 'in-use' | 'other' }
  | { kind: 'livekit-unreachable'; detail?: string }
  | { kind: 'agent-timeout'; seconds: number }
  /** The service waited for the agent until its join deadline, then ended the call (end_reason agent_unavailable). */
  | { kind: 'agent-unavailable' }
  | { kind: 'connection-lost' }
  | { kind: 'unexpected'; detail: string };

/** What the user can do next. Every failure offers at least one. */
export type FailureAction = 'retry' | 'upgrade' | 'sign-in' | 'dismiss' | 'microphone-help';

export interface FailureDescription {
  title: string;
  body: string;
  actions: FailureAction[];
  /** Retry is offered but disabled until this time (epoch ms). */
  retryAt?: number;
  /** Machine-readable tag for tests and styling. */
  tag: string;
}

export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} hour${hours === 1 ? '' : 's'}`;
  return `${Math.round(hours / 24)} days`;
}

function retryPhrase(retryAt: number | undefined, now: number): string {
  if (retryAt === undefined) return 'Try again in a moment.';
  const seconds = (retryAt - now) / 1000;
  return seconds <= 0 ? 'You can try again now.' : `You can try again in ${formatWait(seconds)}.`;
}

export function describeFailure(failure: CallFailure, now: number): FailureDescription {
  switch (failure.kind) {
    case 'not-signed-in':
      return {
        tag: 'not-signed-in',
        title: 'Please sign in again',
        body: 'Your session has ended. Sign in to start a call.',
        actions: ['sign-in'],
      };
    case 'token-service-unreachable':
      return {
        tag: 'token-service-unreachable',
        title: 'Can’t reach the call service',
        body: 'We could not reach the service that starts calls. Check your connection and try again.',
        actions: ['retry', 'dismiss'],
      };
    case 'microphone':
      return describeMicrophone(failure.reason);
    case 'livekit-unreachable':
      return {
        tag: 'livekit-unreachable',
        title: 'Can’t connect the call',
        body: 'The call server did not answer. This is often a network or firewall problem. Try again in a moment.',
        actions: ['retry', 'dismiss'],
      };
    case 'agent-timeout':
      return {
        tag: 'agent-timeout',
        title: 'Claude didn’t pick up',
        body: `The assistant did not join within ${failure.seconds} seconds, so we hung up. It may be busy: please try again in a moment.`,
        actions: ['retry', 'dismiss'],
      };
    case 'agent-unavailable':
      return {
        tag: 'agent-unavailable',
        title: 'Claude couldn’t take your call',
        body: 'No assistant was free to join, so the call was ended. It did not use any of your minutes. Please try again in a moment.',
        actions: ['retry', 'dismiss'],
      };
    case 'connection-lost':
      return {
        tag: 'connection-lost',
        title: 'The call dropped',
        body: 'We lost the connection and could not get it back. Your conversation so far is saved.',
        actions: ['retry', 'dismiss'],
      };
    case 'unexpected':
      return {
        tag: 'unexpected',
        title: 'Something went wrong',
        body: 'The call could not continue. Please try again.',
        actions: ['retry', 'dismiss'],
      };
    case 'token-rejected':
      return describeTokenRejection(failure, now);
  }
}

function describeMicrophone(
  reason: 'permission-denied' | 'not-found' | 'in-use' | 'other',
): FailureDescription {
  switch (reason) {
    case 'permission-denied':
      return {
        tag: 'mic-denied',
        title: 'Microphone access is blocked',
        body: 'To talk with Claude, allow microphone access for this site in your browser’s address bar or site settings, then try again.',
        actions: ['retry', 'microphone-help'],
      };
    case 'not-found':
      return {
        tag: 'mic-missing',
        title: 'No microphone found',
        body: 'Connect a microphone or headset, then try again.',
        actions: ['retry', 'dismiss'],
      };
    case 'in-use':
      return {
        tag: 'mic-in-use',
        title: 'Your microphone is busy',
        body: 'Another app is using the microphone. Close it, then try again.',
        actions: ['retry', 'dismiss'],
      };
    case 'other':
      return {
        tag: 'mic-error',
        title: 'The microphone didn’t start',
        body: 'Your browser could not start the microphone. Check your audio settings and try again.',
        actions: ['retry', 'dismiss'],
      };
  }
}

function describeTokenRejection(
  failure: Extract<CallFailure, { kind: 'token-rejected' }>,
  now: number,
): FailureDescription {
  const { retryAt } = failure;
  switch (failure.code) {
    case 'UNAUTHENTICATED':
      return describeFailure({ kind: 'not-signed-in' }, now);
    case 'TIER_REQUIRED':
      return {
        tag: 'tier-required',
        title: 'Voice calls are part of Studio',
        body: 'Upgrade to the Studio plan to talk with Claude by voice. Your text chats stay as they are.',
        actions: ['upgrade', 'dismiss'],
      };
    case 'SESSION_LIMIT':
      return {
        tag: 'session-limit',
        title: 'Too many calls at once',
        body: `You already have the most calls open that your plan allows. Hang up a call in another tab or device. ${retryPhrase(retryAt, now)}`,
        actions: ['retry', 'dismiss'],
        ...(retryAt !== undefined ? { retryAt } : {}),
      };
    case 'RATE_LIMITED':
      return {
        tag: 'rate-limited',
        title: 'Please wait a little',
        body: `You started many calls in a short time. ${retryPhrase(retryAt, now)}`,
        actions: ['retry', 'dismiss'],
        ...(retryAt !== undefined ? { retryAt } : {}),
      };
    case 'QUOTA_EXCEEDED':
      return {
        tag: 'quota-exceeded',
        title: 'You’ve used this month’s voice minutes',
        body:
          retryAt !== undefined
            ? `Your minutes renew in ${formatWait((retryAt - now) / 1000)}. Text chat keeps working meanwhile.`
            : 'Your minutes renew at the start of next month. Text chat keeps working meanwhile.',
        actions: ['dismiss'],
      };
    case 'VOICE_DISABLED':
      return {
        tag: 'voice-disabled',
        title: 'Voice calls are paused',
        body: 'Voice is switched off for now. Your conversations and text chat still work. Please try a call later.',
        actions: ['retry', 'dismiss'],
        ...(retryAt !== undefined ? { retryAt } : {}),
      };
    case 'CONVERSATION_NOT_FOUND':
      return {
        tag: 'conversation-not-found',
        title: 'Conversation not found',
        body: 'This conversation no longer exists. Start a new one to call.',
        actions: ['dismiss'],
      };
    case 'UNAVAILABLE':
      return {
        tag: 'unavailable',
        title: 'Calls are briefly unavailable',
        body: `The call service can’t start calls right now. ${retryPhrase(retryAt, now)}`,
        actions: ['retry', 'dismiss'],
        ...(retryAt !== undefined ? { retryAt } : {}),
      };
    default:
      return {
        tag: 'token-error',
        title: 'The call could not start',
        body: 'The call service turned the request down. Please try again; if it keeps happening, reload the page.',
        actions: ['retry', 'dismiss'],
      };
  }
}
