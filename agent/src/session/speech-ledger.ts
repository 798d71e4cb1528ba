import type { SpeechProvider } from '@voice/core/config/agent';
import type { SpokenSentence } from '../usage/speech-usage.ts';

/** What a reply's speech was: the engines that spoke it, and how many sentences came out differently. */
export interface ReplySpeech {
  engines: SpeechProvider[];
  sentences: number;
  transcript_mismatches: number;
}

/** Sentences not claimed by a reply this long are dropped (discarded speculative replies, recovery checks). */
const KEEP_MS = 120_000;

/**
 * The sentences the call's speech engines finished, until the reply they belong to is saved: a reply's message
 * row then says which engines spoke it and how many of its sentences the engine's own transcript contradicts
 * (`messages.metadata.speech`). A sentence belongs to the first saved reply whose text contains it.
 */
export class SpeechLedger {
  #sentences: Array<SpokenSentence & { at: number; key: string }> = [];

  record(sentence: SpokenSentence): void {
    const key = normalize(sentence.text);
    if (key) this.#sentences.push({ ...sentence, key, at: Date.now() });
  }

  /** Takes the sentences of a saved reply's text; undefined when none were recorded for it. */
  take(replyText: string): ReplySpeech | undefined {
    const now = Date.now();
    this.#sentences = this.#sentences.filter((s) => now - s.at < KEEP_MS);
    const reply = normalize(replyText);
    const mine = this.#sentences.filter((s) => reply.includes(s.key));
    if (!mine.length) return undefined;
    this.#sentences = this.#sentences.filter((s) => !mine.includes(s));
    return {
      engines: [...new Set(mine.map((s) => s.provider))],
      sentences: mine.length,
      transcript_mismatches: mine.filter((s) => s.transcriptMismatch).length,
    };
  }
}

function normalize(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
