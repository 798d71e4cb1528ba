import type { Logger } from '@voice/core';

/** Thrown by a write that can never succeed (bad data, constraint violation): dropped instead of retried. */
export class PermanentWriteError extends Error {
  override name = 'PermanentWriteError';
  /** True when the write was bound to fail for a reason that is no fault (logged as info, not error). */
  readonly expected: boolean = false;
}

export interface WriteOp {
  /** Ops with the same key coalesce: a newer pending op replaces an older one not yet started (checkpoints). */
  key: string;
  /** What the op writes, for logs (never content). */
  kind: string;
  run: () => Promise<void>;
}

export interface WriteQueueOptions {
  logger: Logger;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called when an op is dropped as permanent (metrics). */
  onDropped?: (op: WriteOp, error: unknown) => void;
}

/**
 * The call's database writes, in order, off the audio path: `enqueue` returns at once and the call never waits
 * on it. A failing write is retried with exponential backoff (with jitter) until it lands, so a database outage
 * delays rows but loses none; writes are idempotent upserts, so a retry after an unseen success is harmless.
 * `flush` waits (bounded) for the backlog at the end of a call.
 */
export class WriteQueue {
  readonly #pending: WriteOp[] = [];
  readonly #logger: Logger;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #onDropped: ((op: WriteOp, error: unknown) => void) | undefined;
  #running = false;
  #wake: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  #failures = 0;

  constructor(options: WriteQueueOptions) {
    this.#logger = options.logger;
    this.#initialBackoffMs = options.initialBackoffMs ?? 200;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.#onDropped = options.onDropped;
  }

  get size(): number {
    return this.#pending.length + (this.#running ? 1 : 0);
  }
  /** Consecutive failures of the op at the head (0 when writes are flowing). */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  enqueue(op: WriteOp): void {
    if (this.#closed) {
      this.#logger.error({ kind: op.kind }, 'write queued after close; dropped');
      return;
    }
    const existing = this.#pending.findIndex((p) => p.key === op.key);
    if (existing >= 0) this.#pending[existing] = op;
    else this.#pending.push(op);
    if (!this.#running) void this.#drain();
  }

  /** Resolves when everything queued so far has been written, or after `timeoutMs` (returns false then). */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return true;
    this.#wake?.(); // cut a backoff sleep short: this is the last chance
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    if (!done) this.#logger.error({ pending: this.size }, 'write queue not flushed in time; writes lost');
    return done;
  }

  /** Stop accepting writes (pending ones keep retrying until the process ends). */
  close(): void {
    this.#closed = true;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      for (let op = this.#pending.shift(); op; op = this.#pending.shift()) {
        for (;;) {
          try {
            await op.run();
            if (this.#failures > 0)
              this.#logger.info({ kind: op.kind, failures: this.#failures }, 'write landed after retries');
            this.#failures = 0;
            break;
          } catch (error) {
            if (error instanceof PermanentWriteError) {
              this.#logger[error.expected ? 'info' : 'error'](
                { kind: op.kind, err: error.message },
                'write rejected permanently; dropped',
              );
              this.#onDropped?.(op, error);
              this.#failures = 0;
              break;
            }
            this.#failures += 1;
            const backoff = Math.min(
              this.#maxBackoffMs,
              this.#initialBackoffMs * 2 ** Math.min(this.#failures - 1, 10),
            );
            const delay = backoff / 2 + Math.random() * (backoff / 2);
            this.#logger.warn(
              {
                kind: op.kind,
                attempt: this.#failures,
                retryInMs: Math.round(delay),
                err: errorMessage(error),
              },
              'write failed; retrying',
            );
            // A newer op with the same key supersedes this one: retry with the newest data.
            const newer = this.#pending.findIndex((p) => p.key === op?.key);
            if (newer >= 0) op = this.#pending.splice(newer, 1)[0] as WriteOp;
            await this.#sleep(delay);
          }
        }
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && 'message' in error)
    return String((error as { message: unknown }).message);
  return String(error);
}
