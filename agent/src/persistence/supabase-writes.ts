import type { SupabaseClient } from '@supabase/supabase-js';
import type { MessageRow } from './message-rows.ts';
import { PermanentWriteError } from './write-queue.ts';

interface PostgrestLikeError {
  code?: string;
  message?: string;
  details?: string | null;
}

/**
 * Postgres data/constraint/syntax classes (22, 23, 42) and PostgREST request errors (PGRST1xx/2xx) will fail the
 * same way on every retry; everything else (network, 5xx, database down) is worth retrying.
 */
export function isPermanentDbError(error: PostgrestLikeError): boolean {
  const code = error.code ?? '';
  return /^(22|23|42)/.test(code) || /^PGRST[12]\d\d$/.test(code);
}

export function throwIfFailed(error: PostgrestLikeError | null, what: string): void {
  if (!error) return;
  const message = `${what}: ${error.code ?? ''} ${error.message ?? ''}`.trim();
  if (isPermanentDbError(error)) throw new PermanentWriteError(message);
  throw new Error(message);
}

/**
 * The caller deleted the conversation during the call: its messages have nowhere to go (the session survives,
 * with conversation_id NULL). The call ends politely; nothing retries.
 */
export class ConversationGoneError extends PermanentWriteError {
  override name = 'ConversationGoneError';
  override readonly expected = true;
}

export async function upsertMessage(db: SupabaseClient, row: MessageRow): Promise<void> {
  const { error } = await db.from('messages').upsert(row, { onConflict: 'id' });
  // 23503 foreign_key_violation on messages.conversation_id: the conversation no longer exists.
  if (error?.code === '23503' && /conversation/.test(`${error.message} ${error.details ?? ''}`)) {
    throw new ConversationGoneError('upsert message: the conversation was deleted');
  }
  throwIfFailed(error, 'upsert message');
}
