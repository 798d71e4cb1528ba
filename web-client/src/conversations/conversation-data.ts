import type { SupabaseClient } from '@supabase/supabase-js';

/** Reads of the user's own conversations and messages through supabase-js; RLS limits them to the user's rows. */

export interface ConversationSummary {
  id: string;
  title: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StoredMessage {
  id: string;
  role: 'user' | 'assistant' | 'system';
  content: string;
  createdAt: string;
  interrupted: boolean;
  /** Set when the agent wrote the row during a call. */
  voiceSessionId?: string;
  /** Agent-measured end of user speech → first audio for this reply (assistant turns of calls). */
  latencyMs?: number;
}

export async function listConversations(client: SupabaseClient, limit = 50): Promise<ConversationSummary[]> {
  const { data, error } = await client
    .from('conversations')
    .select('id, title, created_at, updated_at')
    .order('updated_at', { ascending: false })
    .order('created_at', { ascending: false })
    .limit(limit);
  if (error) throw new Error(error.message);
  return (data ?? []).map((row) => ({
    id: row.id as string,
    title: (row.title as string | null) ?? null,
    createdAt: row.created_at as string,
    updatedAt: row.updated_at as string,
  }));
}

interface MessageRow {
  id: string;
  role: StoredMessage['role'];
  content: string;
  created_at: string;
  metadata: Record<string, unknown> | null;
}

export function toStoredMessage(row: MessageRow): StoredMessage {
  const metadata = row.metadata ?? {};
  const sessionId = metadata.voice_session_id ?? metadata.session_id;
  const e2eSeconds = (metadata.latency as { e2e?: unknown } | undefined)?.e2e;
  return {
    id: row.id,
    role: row.role,
    content: row.content,
    createdAt: row.created_at,
    interrupted: metadata.interrupted === true,
    ...(typeof sessionId === 'string' ? { voiceSessionId: sessionId } : {}),
    ...(typeof e2eSeconds === 'number' ? { latencyMs: Math.round(e2eSeconds * 1000) } : {}),
  };
}

export async function loadMessages(
  client: SupabaseClient,
  conversationId: string,
  limit = 500,
): Promise<StoredMessage[]> {
  const { data, error } = await client
    .from('messages')
    .select('id, role, content, created_at, metadata')
    .eq('conversation_id', conversationId)
    .order('created_at', { ascending: true })
    .limit(limit);
  if (error) throw new Error(error.message);
  return ((data ?? []) as MessageRow[]).map(toStoredMessage);
}

export function conversationLabel(conversation: ConversationSummary): string {
  if (conversation.title?.trim()) return conversation.title.trim();
  const when = new Date(conversation.createdAt);
  return `Conversation of ${when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`;
}

/** How the agent ended a call (voice_sessions.end_reason, readable by its owner), once it is recorded. */
export async function loadSessionEndReason(
  client: SupabaseClient,
  sessionId: string,
): Promise<string | undefined> {
  const { data, error } = await client
    .from('voice_sessions')
    .select('end_reason')
    .eq('id', sessionId)
    .maybeSingle();
  if (error) return undefined;
  return (data?.end_reason as string | null | undefined) ?? undefined;
}
