import type { SupabaseClient } from '@supabase/supabase-js';
import type { CallIdentity } from '../persistence/message-rows.ts';
import { throwIfFailed } from '../persistence/supabase-writes.ts';
import type { WriteQueue } from '../persistence/write-queue.ts';
import type { UsageMeter } from './usage-meter.ts';
import { toSessionTotals, toUsageLogRow } from './usage-rows.ts';

/**
 * Writes the call's usage through the write queue: a checkpoint every few seconds while the call lives (so a
 * crashed or killed job loses at most one interval) and a final one at the end. Checkpoints share a queue key,
 * so during a database outage only the newest one is retried.
 */
export class UsageRecorder {
  readonly #db: SupabaseClient;
  readonly #queue: WriteQueue;
  readonly #meter: UsageMeter;
  readonly #call: CallIdentity;
  readonly #startedAtMs: number;
  #timer: NodeJS.Timeout | undefined;
  #final = false;

  constructor(opts: {
    db: SupabaseClient;
    queue: WriteQueue;
    meter: UsageMeter;
    call: CallIdentity;
    startedAtMs: number;
  }) {
    this.#db = opts.db;
    this.#queue = opts.queue;
    this.#meter = opts.meter;
    this.#call = opts.call;
    this.#startedAtMs = opts.startedAtMs;
  }

  startCheckpoints(intervalSeconds: number): void {
    this.#timer = setInterval(() => this.checkpoint(), intervalSeconds * 1000);
    this.#timer.unref();
  }

  checkpoint(): void {
    if (this.#final) return;
    this.#enqueue(false);
  }

  /** The last write; later checkpoints are ignored. */
  finish(endReason: string): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#final) return;
    this.#final = true;
    this.#enqueue(true, endReason);
  }

  #enqueue(final: boolean, endReason?: string): void {
    const snapshot = this.#meter.snapshot();
    const row = toUsageLogRow(this.#call, snapshot, { startedAtMs: this.#startedAtMs, final, endReason });
    const totals = toSessionTotals(snapshot);
    const db = this.#db;
    const sessionId = this.#call.sessionId;
    this.#queue.enqueue({
      key: `usage:${sessionId}`,
      kind: final ? 'usage_final' : 'usage_checkpoint',
      run: async () => {
        const log = await db.from('usage_logs').upsert(row, { onConflict: 'id' });
        throwIfFailed(log.error, 'upsert usage_logs');
        const totalsUpdate = await db
          .from('voice_sessions')
          .update({ ...totals, updated_at: new Date().toISOString() })
          .eq('id', sessionId);
        throwIfFailed(totalsUpdate.error, 'update voice_sessions totals');
      },
    });
  }
}
