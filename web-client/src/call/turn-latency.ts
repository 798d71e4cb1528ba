import type { AgentActivity } from './call-state.ts';

/**
 * Per-turn latency as this browser can observe it: from the moment the user's turn is final (their final
 * transcript arrives, or the agent starts thinking, whichever comes first) to the moment the agent starts
 * speaking. It includes STT endpointing as seen from here but not the audio's network path; the agent's own
 * measurement (end of speech → first audio, if it publishes one) is shown beside it in the debug view.
 */
export interface TurnLatency {
  turn: number;
  /** End of the user's turn as seen here → agent state "speaking". */
  clientMs: number;
  /** User's turn final → agent state "thinking" (how long endpointing took to hand over). */
  toThinkingMs?: number;
}

export class TurnLatencyTracker {
  private userDoneAt?: number;
  private thinkingAt?: number;
  private readonly turns: TurnLatency[] = [];

  userTurnFinal(at: number): void {
    this.userDoneAt ??= at;
  }

  agentActivity(activity: AgentActivity, at: number): void {
    if (activity === 'thinking') {
      this.thinkingAt ??= at;
      // Endpointing can reach "thinking" before the final transcript stream arrives here.
      this.userDoneAt ??= at;
      return;
    }
    if (activity === 'speaking' && this.userDoneAt !== undefined) {
      const turn: TurnLatency = { turn: this.turns.length + 1, clientMs: Math.max(0, at - this.userDoneAt) };
      if (this.thinkingAt !== undefined) turn.toThinkingMs = Math.max(0, this.thinkingAt - this.userDoneAt);
      this.turns.push(turn);
    }
    if (activity === 'speaking' || activity === 'listening') {
      // Listening without speaking (e.g. an interrupted turn) starts a fresh turn too.
      this.userDoneAt = undefined;
      this.thinkingAt = undefined;
    }
  }

  all(): readonly TurnLatency[] {
    return this.turns;
  }
}

export function summarizeLatencies(values: readonly number[]): { p50: number; max: number } | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: sorted[Math.floor((sorted.length - 1) / 2)]!, max: sorted[sorted.length - 1]! };
}
