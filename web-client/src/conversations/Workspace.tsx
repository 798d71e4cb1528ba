import type { Session, SupabaseClient } from '@supabase/supabase-js';
import { useCallback, useEffect, useState } from 'react';
import { isCallLive } from '../call/call-state.ts';
import { useCall } from '../call/use-call.ts';
import type { RuntimeConfig } from '../config/runtime-config.ts';
import { ConversationList } from './ConversationList.tsx';
import { ConversationView } from './ConversationView.tsx';
import { type ConversationSummary, listConversations, loadSessionEndReason } from './conversation-data.ts';

interface Props {
  supabase: SupabaseClient;
  session: Session;
  config: RuntimeConfig;
}

const UPGRADE_URL = '/#upgrade';
const SELECTED_KEY = 'voice.selectedConversation';

/** The signed-in app: header, conversation list, the chosen conversation and its call. */
export function Workspace({ supabase, session, config }: Props) {
  const [conversations, setConversations] = useState<ConversationSummary[]>();
  const [listError, setListError] = useState<string>();
  const [selectedId, setSelectedId] = useState<string | undefined>(
    () => sessionStorage.getItem(SELECTED_KEY) ?? undefined,
  );

  const getAccessToken = useCallback(async () => {
    const { data } = await supabase.auth.getSession();
    return data.session?.access_token;
  }, [supabase]);
  const lookupEndReason = useCallback(
    (sessionId: string) => loadSessionEndReason(supabase, sessionId),
    [supabase],
  );
  const call = useCall({
    tokenServiceUrl: config.tokenServiceUrl,
    getAccessToken,
    agentJoinTimeoutSeconds: config.agentJoinTimeoutSeconds ?? 30,
    lookupEndReason,
    ...(session.user.email ? { participantName: session.user.email.split('@')[0] } : {}),
  });
  const live = isCallLive(call.state);

  const refreshList = useCallback(async () => {
    try {
      setConversations(await listConversations(supabase));
      setListError(undefined);
    } catch (error) {
      setListError((error as Error).message);
    }
  }, [supabase]);

  useEffect(() => {
    void refreshList();
  }, [refreshList]);

  const select = useCallback((id: string | undefined) => {
    setSelectedId(id);
    if (id) sessionStorage.setItem(SELECTED_KEY, id);
    else sessionStorage.removeItem(SELECTED_KEY);
  }, []);

  // A call started from "New conversation" learns its conversation from the token response: follow it.
  const grantedConversation = call.state.grant?.conversationId;
  useEffect(() => {
    if (!grantedConversation) return;
    select(grantedConversation);
    void refreshList();
  }, [grantedConversation, select, refreshList]);

  // The list is ordered by last activity; a finished call changes it.
  useEffect(() => {
    if (!live) void refreshList();
  }, [live, refreshList]);

  // Drop a remembered selection that no longer exists (deleted, or another account on this browser).
  useEffect(() => {
    if (selectedId && conversations && !live && !conversations.some((c) => c.id === selectedId))
      select(undefined);
  }, [conversations, selectedId, live, select]);

  async function signOut() {
    if (live) await call.controller?.hangUp();
    sessionStorage.removeItem(SELECTED_KEY);
    await supabase.auth.signOut();
  }

  return (
    <div className="app-shell">
      <header className="app-header">
        <h1 className="app-title">Voice</h1>
        <div className="account">
          <span className="account-email" title={session.user.email}>
            {session.user.email}
          </span>
          <button type="button" className="button button-quiet" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <div className="layout">
        <ConversationList
          conversations={conversations}
          error={listError}
          selectedId={selectedId}
          locked={live}
          onSelect={select}
          onRetry={() => void refreshList()}
        />
        <ConversationView
          key={selectedId ?? 'new'}
          supabase={supabase}
          conversationId={selectedId}
          call={call}
          upgradeUrl={UPGRADE_URL}
          onSignInAgain={() => void signOut()}
        />
      </div>
    </div>
  );
}
