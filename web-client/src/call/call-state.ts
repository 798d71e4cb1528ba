import type { TokenResponse } from '@voice/core/token-api';
import type { CallFailure } from './call-failures.ts';

/**
 * The call's life as a pure reducer: events in (from the UI, the token service and the LiveKit room), state out.
 * No timers or I/O here, so every transition is unit-testable; call-controller.ts feeds it.
 */

/** What the agent reports in its `lk.agent.state` attribute (LiveKit Agents). */
export type AgentActivity = 'initializing' | 'idle' | 'listening' | 'thinking' | 'speaking';

export type CallPhase =
  | 'idle'
  | 'checking-microphone'
  | 'requesting-token'
  | 'connecting'
  | 'waiting-for-agent'
  | 'in-call'
  | 'reconnecting'
  | 'ending'
  | 'ended'
  | 'failed';

export type CallEndReason =
  | 'hangup'
  | 'agent-ended'
  | 'max-duration'
  | 'idle-timeout'
  | 'voice-disabled'
  | 'agent-error'
  | 'conversation-deleted'
  | 'room-closed';

/** voice_sessions.end_reason (written by the agent/token service) → what the page says; unknown → undefined. */
export function endReasonFromServer(value: string | null | undefined): CallEndReason | undefined {
  switch (value) {
    case 'max_duration':
      return 'max-duration';
    case 'idle':
      return 'idle-timeout';
    case 'voice_disabled':
      return 'voice-disabled';
    case 'error':
      return 'agent-error';
    case 'conversation_deleted':
      return 'conversation-deleted';
    default:
      return undefined;
  }
}

/**
 * The token service closed the room because no agent joined by its deadline: it puts
 * `{"end_reason":"agent_unavailable"}` into the room's metadata before deleting the room.
 */
export function closedForNoAgent(roomMetadata: string | undefined): boolean {
  if (!roomMetadata) return false;
  try {
    return (JSON.parse(roomMetadata) as { end_reason?: unknown }).end_reason === 'agent_unavailable';
  } catch {
    return false;
  }
}

export interface CallGrant {
  sessionId: string;
  conversationId: string;
  roomName: string;
  limits: TokenResponse['limits'];
  /** The service's join deadline (seconds after connecting); absent from older token services. */
  agentJoinTimeoutSeconds?: number;
}

export interface CallState {
  phase: CallPhase;
  agentActivity?: AgentActivity;
  grant?: CallGrant;
  /** When the room connected (epoch ms): the call clock starts here. */
  connectedAt?: number;
  endedAt?: number;
  muted: boolean;
  failure?: CallFailure;
  endReason?: CallEndReason;
}

export type CallEvent =
  | { type: 'start' }
  | { type: 'microphone-ready' }
  | { type: 'token-granted'; grant: CallGrant }
  | { type: 'room-connected'; at: number }
  | { type: 'agent-joined' }
  | { type: 'agent-activity'; activity: AgentActivity }
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  | { type: 'muted'; muted: boolean }
  | { type: 'hangup' }
  | { type: 'ended'; reason: CallEndReason; at: number }
  /** The server's record says more precisely why the other side ended the call. */
  | { type: 'end-reason'; reason: CallEndReason }
  | { type: 'failed'; failure: CallFailure; at: number }
  | { type: 'reset' };

export const initialCallState: CallState = { phase: 'idle', muted: false };

const LIVE_PHASES: ReadonlySet<CallPhase> = new Set([
  'checking-microphone',
  'requesting-token',
  'connecting',
  'waiting-for-agent',
  'in-call',
  'reconnecting',
  'ending',
]);

/** A call is "live" from pressing Call until it has ended or failed: one at a time per page. */
export function isCallLive(state: CallState): boolean {
  return LIVE_PHASES.has(state.phase);
}

export function callReducer(state: CallState, event: CallEvent): CallState {
  switch (event.type) {
    case 'start':
      if (isCallLive(state)) return state;
      return { phase: 'checking-microphone', muted: false };
    case 'microphone-ready':
      return state.phase === 'checking-microphone' ? { ...state, phase: 'requesting-token' } : state;
    case 'token-granted':
      return state.phase === 'requesting-token'
        ? { ...state, phase: 'connecting', grant: event.grant }
        : state;
    case 'room-connected':
      if (state.phase !== 'connecting') return state;
      // The agent may already be in the room (it joins on dispatch, sometimes before us).
      return {
        ...state,
        connectedAt: event.at,
        phase: state.agentActivity ? 'in-call' : 'waiting-for-agent',
      };
    case 'agent-joined':
      if (state.phase === 'waiting-for-agent') {
        return { ...state, phase: 'in-call', agentActivity: state.agentActivity ?? 'initializing' };
      }
      if (state.phase === 'connecting')
        return { ...state, agentActivity: state.agentActivity ?? 'initializing' };
      return state;
    case 'agent-activity':
      if (!isCallLive(state) || state.phase === 'ending') return state;
      return {
        ...state,
        agentActivity: event.activity,
        phase: state.phase === 'waiting-for-agent' ? 'in-call' : state.phase,
      };
    case 'reconnecting':
      return state.phase === 'in-call' || state.phase === 'waiting-for-agent'
        ? { ...state, phase: 'reconnecting' }
        : state;
    case 'reconnected':
      if (state.phase !== 'reconnecting') return state;
      return { ...state, phase: state.agentActivity ? 'in-call' : 'waiting-for-agent' };
    case 'muted':
      return { ...state, muted: event.muted };
    case 'hangup':
      return isCallLive(state) ? { ...state, phase: 'ending', endReason: 'hangup' } : state;
    case 'ended':
      if (state.phase === 'ended' || state.phase === 'failed') return state;
      return {
        ...state,
        phase: 'ended',
        // The first reason wins: a hang-up stays a hang-up even though the room then reports "closed".
        endReason: state.endReason ?? event.reason,
        endedAt: event.at,
      };
    case 'end-reason':
      if (
        state.phase !== 'ended' ||
        (state.endReason !== 'agent-ended' && state.endReason !== 'room-closed')
      ) {
        return state;
      }
      return { ...state, endReason: event.reason };
    case 'failed':
      if (state.phase === 'ended' || state.phase === 'failed') return state;
      // Once the user pressed hang up, whatever happens while leaving is not their problem.
      if (state.phase === 'ending') return { ...state, phase: 'ended', endedAt: event.at };
      return { ...state, phase: 'failed', failure: event.failure, endedAt: event.at };
    case 'reset':
      return isCallLive(state) ? state : initialCallState;
  }
}

/** Words for the state indicator (also announced through aria-live). */
export function describePhase(state: CallState): string {
  switch (state.phase) {
    case 'idle':
      return 'Ready to call';
    case 'checking-microphone':
      return 'Checking your microphone…';
    case 'requesting-token':
      return 'Starting the call…';
    case 'connecting':
      return 'Connecting…';
    case 'waiting-for-agent':
      return 'Waiting for Claude to join — you can start talking';
    case 'reconnecting':
      return 'Connection lost — reconnecting…';
    case 'ending':
      return 'Hanging up…';
    case 'ended':
      return describeEnd(state.endReason);
    case 'failed':
      return state.connectedAt === undefined ? 'The call didn’t start' : 'The call stopped';
    case 'in-call':
      switch (state.agentActivity) {
        case 'listening':
        case 'idle':
          return 'Listening';
        case 'thinking':
          return 'Thinking…';
        case 'speaking':
          return 'Speaking';
        default:
          return 'Claude is getting ready…';
      }
  }
}

export function describeEnd(reason: CallEndReason | undefined): string {
  switch (reason) {
    case 'hangup':
      return 'Call ended';
    case 'max-duration':
      return 'Call ended: it reached the maximum call length';
    case 'idle-timeout':
      return 'Call ended after a long silence';
    case 'voice-disabled':
      return 'Call ended: voice calls were switched off for now';
    case 'agent-error':
      return 'Call ended: Claude ran into a problem — please call again';
    case 'conversation-deleted':
      return 'Call ended: this conversation was deleted';
    case 'agent-ended':
      return 'Claude ended the call';
    default:
      return 'Call ended';
  }
}
