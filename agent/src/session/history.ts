import { llm } from '@livekit/agents';
import type { SupabaseClient } from '@supabase/supabase-js';
import { throwIfFailed } from '../persistence/supabase-writes.ts';

export interface StoredMessage {
  id: string;
  role: string;
  content: string;
  created_at: string;
}

/** The conversation's last `limit` user/assistant messages, oldest first. */
export async function loadRecentMessages(
  db: SupabaseClient,
  conversationId: string,
  limit: number,
  signal?: AbortSignal,
): Promise<StoredMessage[]> {
  if (limit <= 0) return [];
  let query = db
    .from('messages')
    .select('id, role, content, created_at')
    .eq('conversation_id', conversationId)
    .in('role', ['user', 'assistant'])
    .order('created_at', { ascending: false })
    .limit(limit);
  if (signal) query = query.abortSignal(signal);
  const { data, error } = await query;
  throwIfFailed(error, 'load conversation history');
  return ((data ?? []) as StoredMessage[]).reverse();
}

/**
 * Stored messages → chat items, so the call continues the text chat. Item ids are prefixed `history_`, which
 * also tells the persistence layer they are already stored.
 */
export function historyToChatContext(messages: StoredMessage[]): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  for (const m of messages) {
    if ((m.role !== 'user' && m.role !== 'assistant') || !m.content?.trim()) continue;
    ctx.addMessage({
      role: m.role,
      content: m.content,
      id: `history_${m.id}`,
      createdAt: Date.parse(m.created_at),
    });
  }
  return ctx;
}

export function isHistoryItem(itemId: string): boolean {
  return itemId.startsWith('history_');
}
