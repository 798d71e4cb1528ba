/**
 * How many sentences of one call an engine synthesises at once, in the order they asked. A sentence that is still
 * waiting when the reply is interrupted (its signal aborts) gives up its place and is never sent to the provider:
 * it would be billed and not heard.
 */
export class SpeechSlots {
  readonly #limit: number;
  #busy = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** A release function once a slot is free, or undefined if `signal` aborted first. */
  async acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
    if (signal.aborted) return undefined;
    if (this.#busy >= this.#limit) {
      const granted = await new Promise<boolean>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', giveUp);
          resolve(true);
        };
        const giveUp = () => {
          const at = this.#waiting.indexOf(wake);
          if (at >= 0) this.#waiting.splice(at, 1);
          resolve(false);
        };
        this.#waiting.push(wake);
        signal.addEventListener('abort', giveUp, { once: true });
      });
      if (!granted) return undefined;
    } else {
      this.#busy += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next sentence in line (the count stays).
      if (next) next();
      else this.#busy -= 1;
    };
  }
}
