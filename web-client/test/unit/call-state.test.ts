import { describe, expect, it } from 'vitest';
import {
  type CallEvent,
  type CallGrant,
  type CallState,
  callReducer,
  closedForNoAgent,
  describePhase,
  endReasonFromServer,
  initialCallState,
  isCallLive,
} from '../../src/call/call-state.ts';

const grant: CallGrant = {
  sessionId: 's1',
  conversationId: 'c1',
  roomName: 'r1',
  limits: {
    max_call_seconds: 600,
    concurrent_calls_max: 3,
    concurrent_calls_in_use: 1,
    monthly_minutes_max: 300,
    monthly_minutes_used: 10,
  },
};

function run(events: CallEvent[], from: CallState = initialCallState): CallState {
  return events.reduce(callReducer, from);
}

const happyStart: CallEvent[] = [
  { type: 'start' },
  { type: 'microphone-ready' },
  { type: 'token-granted', grant },
  { type: 'room-connected', at: 1000 },
];

describe('call state', () => {
  it('walks microphone → token → connect → waiting → in call with the agent state', () => {
    expect(run([{ type: 'start' }]).phase).toBe('checking-microphone');
    expect(run(happyStart.slice(0, 2)).phase).toBe('requesting-token');
    expect(run(happyStart.slice(0, 3)).phase).toBe('connecting');
    const waiting = run(happyStart);
    expect(waiting.phase).toBe('waiting-for-agent');
    expect(waiting.connectedAt).toBe(1000);
    expect(describePhase(waiting)).toMatch(/Waiting for Claude/);
    const joined = callReducer(waiting, { type: 'agent-joined' });
    expect(joined.phase).toBe('in-call');
    expect(describePhase(joined)).toMatch(/getting ready/);
    const thinking = callReducer(joined, { type: 'agent-activity', activity: 'thinking' });
    expect(describePhase(thinking)).toBe('Thinking…');
    expect(describePhase(callReducer(thinking, { type: 'agent-activity', activity: 'speaking' }))).toBe(
      'Speaking',
    );
    expect(describePhase(callReducer(thinking, { type: 'agent-activity', activity: 'listening' }))).toBe(
      'Listening',
    );
  });

  it('goes straight to in-call when the agent was in the room before us', () => {
    const state = run([
      ...happyStart.slice(0, 3),
      { type: 'agent-joined' },
      { type: 'room-connected', at: 5 },
    ]);
    expect(state.phase).toBe('in-call');
  });

  it('an agent state attribute also counts as the agent having joined', () => {
    const state = run([...happyStart, { type: 'agent-activity', activity: 'listening' }]);
    expect(state.phase).toBe('in-call');
    expect(state.agentActivity).toBe('listening');
  });

  it('reconnecting returns to where it was', () => {
    const inCall = run([...happyStart, { type: 'agent-joined' }]);
    const reconnecting = callReducer(inCall, { type: 'reconnecting' });
    expect(reconnecting.phase).toBe('reconnecting');
    expect(describePhase(reconnecting)).toMatch(/reconnecting/i);
    expect(callReducer(reconnecting, { type: 'reconnected' }).phase).toBe('in-call');
    const waiting = run([...happyStart, { type: 'reconnecting' }, { type: 'reconnected' }]);
    expect(waiting.phase).toBe('waiting-for-agent');
  });

  it('hang up wins over whatever the room reports while leaving', () => {
    const inCall = run([...happyStart, { type: 'agent-joined' }]);
    const ending = callReducer(inCall, { type: 'hangup' });
    expect(ending.phase).toBe('ending');
    const ended = callReducer(ending, { type: 'ended', reason: 'room-closed', at: 9000 });
    expect(ended).toMatchObject({ phase: 'ended', endReason: 'hangup', endedAt: 9000 });
    const failedWhileLeaving = callReducer(ending, {
      type: 'failed',
      failure: { kind: 'connection-lost' },
      at: 9000,
    });
    expect(failedWhileLeaving.phase).toBe('ended');
    expect(failedWhileLeaving.failure).toBeUndefined();
  });

  it('an agent ending the call for max duration says so', () => {
    const ended = run([
      ...happyStart,
      { type: 'agent-joined' },
      { type: 'ended', reason: 'max-duration', at: 2 },
    ]);
    expect(ended.endReason).toBe('max-duration');
    expect(describePhase(ended)).toMatch(/maximum call length/);
    expect(isCallLive(ended)).toBe(false);
  });

  it('the server record refines why the other side ended the call, never a hang-up', () => {
    const byAgent = run([
      ...happyStart,
      { type: 'agent-joined' },
      { type: 'ended', reason: 'room-closed', at: 2 },
    ]);
    expect(describePhase(callReducer(byAgent, { type: 'end-reason', reason: 'max-duration' }))).toMatch(
      /maximum/,
    );
    expect(describePhase(callReducer(byAgent, { type: 'end-reason', reason: 'voice-disabled' }))).toMatch(
      /switched off/,
    );
    const hungUp = run([...happyStart, { type: 'hangup' }, { type: 'ended', reason: 'hangup', at: 2 }]);
    expect(callReducer(hungUp, { type: 'end-reason', reason: 'max-duration' })).toBe(hungUp);
    expect(endReasonFromServer('idle')).toBe('idle-timeout');
    expect(endReasonFromServer('caller_left')).toBeUndefined();
    expect(endReasonFromServer('conversation_deleted')).toBe('conversation-deleted');
    expect(
      describePhase(callReducer(byAgent, { type: 'end-reason', reason: 'conversation-deleted' })),
    ).toMatch(/conversation was deleted/);
  });

  it('recognises a room the token service closed because no agent came', () => {
    expect(closedForNoAgent('{"end_reason":"agent_unavailable"}')).toBe(true);
    expect(closedForNoAgent('{"end_reason":"caller_left"}')).toBe(false);
    expect(closedForNoAgent('')).toBe(false);
    expect(closedForNoAgent(undefined)).toBe(false);
    expect(closedForNoAgent('not json')).toBe(false);
  });

  it('a failure is terminal and keeps its cause; start again resets', () => {
    const failed = run([
      { type: 'start' },
      { type: 'microphone-ready' },
      { type: 'failed', failure: { kind: 'token-service-unreachable' }, at: 3 },
    ]);
    expect(failed.phase).toBe('failed');
    expect(failed.failure).toEqual({ kind: 'token-service-unreachable' });
    expect(callReducer(failed, { type: 'ended', reason: 'hangup', at: 4 })).toBe(failed);
    expect(callReducer(failed, { type: 'start' }).phase).toBe('checking-microphone');
  });

  it('ignores events that do not fit the phase (late, duplicate, out of order)', () => {
    expect(callReducer(initialCallState, { type: 'room-connected', at: 1 })).toBe(initialCallState);
    expect(callReducer(initialCallState, { type: 'token-granted', grant })).toBe(initialCallState);
    const live = run(happyStart);
    expect(callReducer(live, { type: 'start' })).toBe(live);
    const ended = run([...happyStart, { type: 'ended', reason: 'hangup', at: 1 }]);
    expect(callReducer(ended, { type: 'agent-activity', activity: 'speaking' })).toBe(ended);
  });
});
