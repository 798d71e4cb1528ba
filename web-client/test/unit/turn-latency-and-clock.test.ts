import { describe, expect, it } from 'vitest';
import { computeCallClock, formatDuration, formatDurationWords } from '../../src/call/call-clock.ts';
import type { CallGrant } from '../../src/call/call-state.ts';
import { summarizeLatencies, TurnLatencyTracker } from '../../src/call/turn-latency.ts';

describe('TurnLatencyTracker', () => {
  it('measures end of the user turn → agent speaking, per turn', () => {
    const t = new TurnLatencyTracker();
    t.agentActivity('speaking', 100); // the greeting: no user turn before it, not a turn latency
    t.agentActivity('listening', 900);
    t.userTurnFinal(1000);
    t.agentActivity('thinking', 1100);
    t.agentActivity('speaking', 1650);
    t.agentActivity('listening', 3000);
    t.agentActivity('thinking', 4000); // endpointing beat the final transcript here
    t.userTurnFinal(4050);
    t.agentActivity('speaking', 4400);
    expect(t.all()).toEqual([
      { turn: 1, clientMs: 650, toThinkingMs: 100 },
      { turn: 2, clientMs: 400, toThinkingMs: 0 },
    ]);
  });

  it('an interrupted turn (back to listening without speaking) starts afresh', () => {
    const t = new TurnLatencyTracker();
    t.userTurnFinal(0);
    t.agentActivity('thinking', 10);
    t.agentActivity('listening', 20);
    t.userTurnFinal(1000);
    t.agentActivity('speaking', 1300);
    expect(t.all().map((x) => x.clientMs)).toEqual([300]);
  });

  it('summarizes', () => {
    expect(summarizeLatencies([])).toBeUndefined();
    expect(summarizeLatencies([300, 100, 200, 900])).toEqual({ p50: 200, max: 900 });
  });
});

describe('call clock', () => {
  const grant: CallGrant = {
    sessionId: 's',
    conversationId: 'c',
    roomName: 'r',
    limits: {
      max_call_seconds: 600,
      concurrent_calls_max: 3,
      concurrent_calls_in_use: 1,
      monthly_minutes_max: 300,
      monthly_minutes_used: 298.5,
    },
  };

  it('counts elapsed time from connect and what is left', () => {
    expect(computeCallClock(grant, 10_000, 10_000 + 65_400)).toEqual({
      elapsedSeconds: 65,
      callSecondsLeft: 535,
      monthlyMinutesLeft: 0,
    });
    expect(computeCallClock(grant, 0, 0)).toMatchObject({ monthlyMinutesLeft: 1 });
    expect(computeCallClock(undefined, undefined, 5)).toEqual({ elapsedSeconds: 0 });
    expect(computeCallClock(grant, 0, 700_000).callSecondsLeft).toBe(0);
  });

  it('formats', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDurationWords(125)).toBe('2 minutes 5 seconds');
    expect(formatDurationWords(60)).toBe('1 minute');
    expect(formatDurationWords(0)).toBe('0 seconds');
  });
});
