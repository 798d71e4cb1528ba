/**
 * Whether a speech engine's transcript of its own audio says something else than the text it was asked to read.
 * Compared as words: case, punctuation and spacing are ignored (an engine's transcript differs in those without
 * the caller hearing a difference); a changed, added or dropped word counts ("I am" read as "I'm" does).
 */
export function transcriptDiffers(text: string, transcript: string): boolean {
  return words(text) !== words(transcript);
}

function words(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/'/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}
