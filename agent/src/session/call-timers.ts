/**
 * The call's clocks, separate from what happens when they fire: the goodbye shortly before the maximum length,
 * the hard stop at it, and the idle prompt → end sequence while the caller is away.
 */
export interface CallTimerHandlers {
  onGoodbyeDue: () => void;
  onMaxDuration: () => void;
  onIdlePrompt: () => void;
  onIdleTimeout: () => void;
}

export class CallTimers {
  readonly #timers = new Set<NodeJS.Timeout>();
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #handlers: CallTimerHandlers;

  constructor(handlers: CallTimerHandlers) {
    this.#handlers = handlers;
  }

  /** Schedules the goodbye `leadSeconds` before `maxSeconds` (at once for very short calls) and the hard stop. */
  startMaxDuration(maxSeconds: number, leadSeconds: number): void {
    const goodbyeAt = Math.max(0, maxSeconds - Math.min(leadSeconds, maxSeconds / 2));
    this.#after(goodbyeAt * 1000, this.#handlers.onGoodbyeDue);
    this.#after(maxSeconds * 1000, this.#handlers.onMaxDuration);
  }

  /** The caller went quiet for the away timeout: prompt now, end after `graceSeconds` more of silence. */
  userAway(graceSeconds: number): void {
    if (this.#idleTimer) return;
    this.#handlers.onIdlePrompt();
    this.#idleTimer = this.#after(graceSeconds * 1000, () => {
      this.#idleTimer = undefined;
      this.#handlers.onIdleTimeout();
    });
  }

  /** The caller spoke again. */
  userBack(): void {
    if (!this.#idleTimer) return;
    clearTimeout(this.#idleTimer);
    this.#timers.delete(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#idleTimer = undefined;
  }

  #after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }
}
