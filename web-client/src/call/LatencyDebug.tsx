import { useSyncExternalStore } from 'react';
import type { CallController } from './call-controller.ts';
import type { CallState } from './call-state.ts';
import { summarizeLatencies } from './turn-latency.ts';

/**
 * Unobtrusive debug view: per-turn latency as measured here, plus whatever latency the agent publishes as
 * participant attributes (keys containing "latency"), and the session id for support.
 */
interface Props {
  controller: CallController;
  state: CallState;
  agentLatenciesMs: readonly number[];
}

export function LatencyDebug({ controller, state, agentLatenciesMs }: Props) {
  // Re-read on every controller change (agent state changes are when turns complete).
  useSyncExternalStore(controller.subscribe, controller.getState);
  const turns = controller.latency.all();
  const summary = summarizeLatencies(turns.map((t) => t.clientMs));
  const agentSummary = summarizeLatencies(agentLatenciesMs);
  const agentAttributes = Object.entries(controller.getAgent()?.attributes ?? {}).filter(([key]) =>
    key.toLowerCase().includes('latency'),
  );

  return (
    <details className="debug" data-testid="latency-debug">
      <summary>Details for nerds</summary>
      <dl className="debug-grid">
        <div className="debug-row">
          <dt>Session</dt>
          <dd>{state.grant?.sessionId ?? '—'}</dd>
        </div>
        <div className="debug-row">
          <dt>Room</dt>
          <dd>{state.grant?.roomName ?? '—'}</dd>
        </div>
        <div className="debug-row">
          <dt>Turn latency (this browser)</dt>
          <dd data-testid="client-latency-summary">
            {summary
              ? `p50 ${summary.p50} ms · max ${summary.max} ms · ${turns.length} turns`
              : 'no turns yet'}
          </dd>
        </div>
        <div className="debug-row">
          <dt>Voice-to-voice (agent, saved)</dt>
          <dd data-testid="agent-latency-summary">
            {agentSummary
              ? `p50 ${agentSummary.p50} ms · max ${agentSummary.max} ms · ${agentLatenciesMs.length} replies`
              : 'after the call'}
          </dd>
        </div>
        {agentAttributes.map(([key, value]) => (
          <div key={key} className="debug-row">
            <dt>{key} (agent)</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {turns.length > 0 ? (
        <table className="debug-table">
          <caption className="visually-hidden">Latency per turn</caption>
          <thead>
            <tr>
              <th scope="col">Turn</th>
              <th scope="col">Your turn ended → Claude speaks</th>
              <th scope="col">→ thinking</th>
            </tr>
          </thead>
          <tbody>
            {turns.map((turn) => (
              <tr key={turn.turn}>
                <td>{turn.turn}</td>
                <td>{turn.clientMs} ms</td>
                <td>{turn.toThinkingMs !== undefined ? `${turn.toThinkingMs} ms` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </details>
  );
}
