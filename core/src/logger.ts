import { type Logger, pino } from 'pino';

/**
 * Structured logs. Personal or secret data (transcripts, prompts, replies, tokens, keys) never go into a message
 * string. Where a log needs such data for debugging it goes under a `sensitive` field, which is removed unless
 * LOG_SENSITIVE=true. Known secret-bearing paths are always redacted.
 */
export interface LoggerOptions {
  name: string;
  level?: string;
  /** Keep `sensitive` fields in the output (debugging only; off by default). */
  includeSensitive?: boolean;
  /** Where the lines go: a file path (appended, created if missing). Default: stdout. */
  file?: string;
}

const ALWAYS_REDACTED = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'accessToken',
  'participantToken',
  'participant_token',
  'apiKey',
  'apiSecret',
  'serviceRoleKey',
  'password',
];

export function createLogger(options: LoggerOptions): Logger {
  const sensitivePaths = options.includeSensitive ? [] : ['sensitive', '*.sensitive'];
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: [...ALWAYS_REDACTED, ...sensitivePaths], remove: true },
      base: { service: options.name },
    },
    options.file ? pino.destination({ dest: options.file, append: true, mkdir: true }) : undefined,
  );
}

export type { Logger };
