/**
 * A failure the person running the stack can act on (missing binary, port in use, database that will not
 * start). The CLI prints only its message — never a stack trace — and exits non-zero.
 */
export class DevstackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DevstackError';
  }
}
