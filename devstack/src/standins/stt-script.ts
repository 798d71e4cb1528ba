/**
 * Where the Deepgram stand-in's transcript text comes from. It cannot recognise words, so the test or
 * benchmark says what the caller said: an ordered list (one entry per detected utterance, across all
 * connections) or a function of the utterance (e.g. matched by duration to a known clip, see fixtures.ts).
 * With nothing scripted it says so: "simulated transcript N".
 */
export interface SttUtterance {
  /** 0-based, counted over every connection since the last reset. */
  index: number;
  /** Index of the WebSocket connection (0-based) since the last reset. */
  connectionIndex: number;
  /** Stream seconds from the first to the last voiced frame. */
  speechSeconds: number;
  /** Seconds of voiced frames inside the utterance. */
  voicedSeconds: number;
  /** Stream seconds where the utterance starts in its connection. */
  startSeconds: number;
}

export type SttScript = string[] | ((utterance: SttUtterance) => string | undefined);

export class SttTranscriptSource {
  #script: SttScript = [];
  #cursor = 0;
  #utterances = 0;
  #defaults = 0;

  set(script: SttScript): void {
    this.#script = script;
    this.#cursor = 0;
  }

  reset(): void {
    this.#script = [];
    this.#cursor = 0;
    this.#utterances = 0;
    this.#defaults = 0;
  }

  /** Next utterance index (claimed when a final is produced). */
  claimIndex(): number {
    return this.#utterances++;
  }

  /**
   * What an interim result shows: the text the next final will carry, without consuming it. Undefined for a
   * function script, which can only judge a whole utterance (a partial one could match a shorter clip), so
   * no interim results are sent then.
   */
  peek(): string | undefined {
    if (typeof this.#script === 'function') return undefined;
    return this.#script[this.#cursor] ?? `simulated transcript ${this.#defaults + 1}`;
  }

  /** The final transcript for an utterance; consumes an ordered entry. */
  take(utterance: SttUtterance): string {
    if (typeof this.#script === 'function') {
      const text = this.#script(utterance);
      if (text !== undefined) return text;
    } else if (this.#cursor < this.#script.length) {
      return this.#script[this.#cursor++]!;
    }
    this.#defaults++;
    return `simulated transcript ${this.#defaults}`;
  }
}
