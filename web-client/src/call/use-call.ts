import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { CallController, CallControllerOptions } from './call-controller.ts';
import { type CallState, initialCallState } from './call-state.ts';
import type { TranscriptEntry } from './transcript-store.ts';

const noSubscribe = () => () => {};
const idleState = () => initialCallState;
const noEntries: readonly TranscriptEntry[] = [];
const emptyEntries = () => noEntries;

export interface UseCall {
  controller: CallController | undefined;
  state: CallState;
  transcript: readonly TranscriptEntry[];
  /** Conversation the current/last call belongs to (undefined before the token names a new one). */
  conversationId: string | undefined;
  start: (conversationId: string | undefined) => void;
  hangUp: () => void;
  setMuted: (muted: boolean) => void;
}

/** One call at a time per page; a new start replaces the previous (finished) call and its transcript. */
export function useCall(base: Omit<CallControllerOptions, 'conversationId'>): UseCall {
  const [controller, setController] = useState<CallController>();
  const [requestedConversation, setRequestedConversation] = useState<string>();
  const baseRef = useRef(base);
  baseRef.current = base;

  const state = useSyncExternalStore(controller?.subscribe ?? noSubscribe, controller?.getState ?? idleState);
  const transcript = useSyncExternalStore(
    controller?.transcript.subscribe ?? noSubscribe,
    controller?.transcript.entries ?? emptyEntries,
  );

  useEffect(() => {
    if (!controller) return;
    const leave = () => controller.dispose();
    window.addEventListener('pagehide', leave);
    return () => {
      window.removeEventListener('pagehide', leave);
      controller.dispose();
    };
  }, [controller]);

  // The controller (and livekit-client with it) is its own chunk, fetched in the background once signed in.
  useEffect(() => {
    void import('./call-controller.ts');
  }, []);

  const start = useCallback((conversationId: string | undefined) => {
    void import('./call-controller.ts').then(({ CallController }) => {
      const next = new CallController({ ...baseRef.current, ...(conversationId ? { conversationId } : {}) });
      setRequestedConversation(conversationId);
      setController(next);
      void next.start();
    });
  }, []);

  return {
    controller,
    state,
    transcript,
    conversationId: state.grant?.conversationId ?? requestedConversation,
    start,
    hangUp: useCallback(() => void controller?.hangUp(), [controller]),
    setMuted: useCallback((muted: boolean) => void controller?.setMuted(muted), [controller]),
  };
}

/** Re-renders every `intervalMs` while `active`, for clocks. */
export function useNow(active: boolean, intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return now;
}
