import type { SupabaseClient } from '@supabase/supabase-js';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { CallPanel } from '../call/CallPanel.tsx';
import { isCallLive } from '../call/call-state.ts';
import type { UseCall } from '../call/use-call.ts';
import { loadMessages, type StoredMessage } from './conversation-data.ts';
import { linesFromMessages, linesFromTranscript, TranscriptView } from './TranscriptView.tsx';

interface Props {
  supabase: SupabaseClient;
  conversationId: string | undefined;
  call: UseCall;
  onSignInAgain: () => void;
  upgradeUrl: string;
}

/** After a call, re-read `messages` at these delays until the agent's rows cover what was said live. */
const REFRESH_AFTER_CALL_MS = [400, 1200, 2500, 5000, 9000];

/**
 * One conversation: its saved messages (from the database through RLS) followed by the current call's live
 * transcript. Once the call is over and the database holds its turns, the saved rows replace the live lines, so
 * what stays on screen is exactly what `messages` holds (and what a reload shows).
 */
export function ConversationView({ supabase, conversationId, call, onSignInAgain, upgradeUrl }: Props) {
  const [messages, setMessages] = useState<StoredMessage[]>();
  const [loadError, setLoadError] = useState<string>();
  const requestRef = useRef(0);

  const reload = useCallback(async () => {
    if (!conversationId) {
      setMessages([]);
      return;
    }
    const request = ++requestRef.current;
    try {
      const rows = await loadMessages(supabase, conversationId);
      if (request === requestRef.current) {
        setMessages(rows);
        setLoadError(undefined);
      }
    } catch (error) {
      if (request === requestRef.current) setLoadError((error as Error).message);
    }
  }, [supabase, conversationId]);

  useEffect(() => {
    setMessages(undefined);
    void reload();
  }, [reload]);

  const callHere = call.conversationId === conversationId && call.controller !== undefined;
  const sessionId = call.state.grant?.sessionId;
  const callOver = call.state.phase === 'ended' || call.state.phase === 'failed';
  const liveFinal = call.transcript.filter((e) => e.final && e.text.trim()).length;
  const savedFromCall = useMemo(
    () => (sessionId ? (messages ?? []).filter((m) => m.voiceSessionId === sessionId).length : 0),
    [messages, sessionId],
  );
  // After the last re-read, saved rows win even if fewer than the live lines: the agent may merge several
  // recognised segments into one user turn.
  const [pollsDone, setPollsDone] = useState(false);
  const caughtUp = callOver && (savedFromCall >= liveFinal || (pollsDone && savedFromCall > 0));

  // Poll after the call until the agent's rows have landed (or give up and keep the live lines).
  useEffect(() => {
    if (!callHere || !callOver) return;
    setPollsDone(false);
    const timers = REFRESH_AFTER_CALL_MS.map((ms, i) =>
      setTimeout(() => {
        void reload().then(() => {
          if (i === REFRESH_AFTER_CALL_MS.length - 1) setPollsDone(true);
        });
      }, ms),
    );
    return () => {
      for (const t of timers) clearTimeout(t);
    };
  }, [callHere, callOver, reload]);

  const showLive = callHere && !caughtUp;
  const lines = useMemo(() => {
    const saved = linesFromMessages(messages ?? []);
    if (!showLive) return saved;
    // While live, the call's own rows may already be arriving in `messages`; show them once, as live lines.
    const withoutCall = sessionId
      ? saved.filter((l) => !(messages ?? []).some((m) => m.id === l.id && m.voiceSessionId === sessionId))
      : saved;
    return [...withoutCall, ...linesFromTranscript(call.transcript)];
  }, [messages, showLive, sessionId, call.transcript]);

  const lastFinal = [...call.transcript].reverse().find((e) => e.final);
  const agentLatencies = useMemo(
    () =>
      sessionId
        ? (messages ?? [])
            .filter((m) => m.voiceSessionId === sessionId && m.latencyMs !== undefined)
            .map((m) => m.latencyMs!)
        : [],
    [messages, sessionId],
  );

  return (
    <section className="conversation" aria-labelledby="conversation-heading">
      <h2 id="conversation-heading" className="visually-hidden">
        {conversationId ? 'Conversation' : 'New conversation'}
      </h2>
      <div className="conversation-body">
        {loadError ? (
          <div className="notice notice-error" role="alert">
            <p>Messages did not load: {loadError}</p>
            <button type="button" className="button" onClick={() => void reload()}>
              Try again
            </button>
          </div>
        ) : messages === undefined ? (
          <p className="muted" role="status">
            Loading messages…
          </p>
        ) : (
          <TranscriptView
            lines={lines}
            emptyText={
              conversationId
                ? 'No messages yet. Press the call button and start talking.'
                : 'Start a call and say hello — a new conversation begins.'
            }
          />
        )}
        {callHere && callOver && !caughtUp && !pollsDone && liveFinal > 0 ? (
          <p className="muted saving-note" role="status">
            Saving the call’s transcript…
          </p>
        ) : null}
        <div className="visually-hidden" aria-live="polite" aria-atomic="true">
          {lastFinal && isCallLive(call.state)
            ? `${lastFinal.role === 'user' ? 'You' : 'Claude'}: ${lastFinal.text}`
            : ''}
        </div>
      </div>
      <CallPanel
        call={call}
        conversationId={conversationId}
        onSignInAgain={onSignInAgain}
        upgradeUrl={upgradeUrl}
        agentLatenciesMs={callHere ? agentLatencies : []}
        active={callHere}
      />
    </section>
  );
}
