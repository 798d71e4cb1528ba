import type { llm } from '@livekit/agents';
import { messageIdFor } from './deterministic-id.ts';

export interface CallIdentity {
  sessionId: string;
  userId: string;
  conversationId: string;
}

/** Per-turn latency parts in seconds, as the framework measured them (absent when not applicable). */
export interface TurnLatency {
  /** End of user speech → first agent audio out. */
  e2e?: number;
  /** End of user speech → final transcript. */
  sttFinal?: number;
  /** End of speech → end of turn decided. */
  endOfTurn?: number;
  llmTtft?: number;
  ttsTtfb?: number;
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  user_id: string;
  role: 'user' | 'assistant';
  content: string;
  type: 'text';
  metadata: Record<string, unknown>;
  created_at: string;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function latencyOf(metrics: llm.MetricsReport | undefined): TurnLatency {
  const out: TurnLatency = {};
  if (!metrics) return out;
  if (typeof metrics.e2eLatency === 'number') out.e2e = round3(metrics.e2eLatency);
  if (typeof metrics.transcriptionDelay === 'number') out.sttFinal = round3(metrics.transcriptionDelay);
  if (typeof metrics.endOfTurnDelay === 'number') out.endOfTurn = round3(metrics.endOfTurnDelay);
  if (typeof metrics.llmNodeTtft === 'number') out.llmTtft = round3(metrics.llmNodeTtft);
  if (typeof metrics.ttsNodeTtfb === 'number') out.ttsTtfb = round3(metrics.ttsNodeTtfb);
  return out;
}

/**
 * A transcript item → its `messages` row, or undefined for items that are not turns (system prompts, empty
 * text). Assistant text is what was actually spoken: the framework adds an interrupted reply with only the part
 * the caller heard, and we keep its `interrupted` flag. `createdAtMs` is the turn's time (chosen by the caller
 * so rows keep their spoken order).
 */
export function toMessageRow(
  call: CallIdentity,
  item: {
    id: string;
    role: string;
    textContent?: string | undefined;
    interrupted?: boolean;
    metrics?: llm.MetricsReport;
  },
  createdAtMs: number,
  extra: Record<string, unknown> = {},
): MessageRow | undefined {
  if (item.role !== 'user' && item.role !== 'assistant') return undefined;
  const content = (item.textContent ?? '').trim();
  if (!content) return undefined;
  const latency = latencyOf(item.metrics);
  return {
    id: messageIdFor(call.sessionId, item.id),
    conversation_id: call.conversationId,
    user_id: call.userId,
    role: item.role,
    content,
    type: 'text',
    metadata: {
      voice_call: true,
      session_id: call.sessionId,
      item_id: item.id,
      ...(item.interrupted ? { interrupted: true } : {}),
      ...(Object.keys(latency).length ? { latency } : {}),
      ...extra,
    },
    created_at: new Date(createdAtMs).toISOString(),
  };
}

/**
 * Keeps `created_at` strictly increasing in the order turns were added. With preemptive generation the reply can
 * start before the user's turn is committed, so raw timestamps could sort an answer before its question.
 */
export class TurnClock {
  #last = 0;
  next(candidateMs: number): number {
    const t = Math.max(Math.floor(candidateMs), this.#last + 1);
    this.#last = t;
    return t;
  }
}

/**
 * One user utterance per row. When the caller pauses mid-sentence, the turn detector can end the turn, and the
 * rest of the sentence arrives as a second user item before the agent has said anything (the reply it started
 * is cut before any of it is heard). Claude receives the two items as one turn (consecutive user items merge);
 * the transcript should read the same: the second joins the first row (same id, so the upsert rewrites it), and a
 * new user row starts only after a reply was heard (an assistant row).
 */
export class UserTurnRows {
  #open: MessageRow | undefined;

  /** The row to write for `row`: itself, or the open user row with `row` joined to it. */
  add(row: MessageRow): MessageRow {
    if (row.role !== 'user') {
      this.#open = undefined;
      return row;
    }
    const open = this.#open;
    if (!open) {
      this.#open = row;
      return row;
    }
    const itemIds = (open.metadata.item_ids as string[] | undefined) ?? [open.metadata.item_id];
    const joined: MessageRow = {
      ...open,
      content: `${open.content} ${row.content}`,
      metadata: {
        ...open.metadata,
        // The latency of the part that got the answer (the last one).
        ...(row.metadata.latency ? { latency: row.metadata.latency } : {}),
        item_ids: [...itemIds, row.metadata.item_id],
      },
    };
    this.#open = joined;
    return joined;
  }
}
