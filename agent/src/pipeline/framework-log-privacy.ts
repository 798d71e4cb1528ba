import { pino } from 'pino';

const LOGGER_KEY = Symbol.for('@livekit/agents:logger');
const PII_PREFIX = 'lk.pii.';

/** Drops the framework's `lk.pii.*` fields (transcripts, replies, identities) from a log record. */
export function stripPii(record: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    if (key.startsWith(PII_PREFIX)) {
      out ??= { ...record };
      delete out[key];
    }
  }
  return out ?? record;
}

/**
 * agents-js logs transcripts and replies at info level under `lk.pii.*` keys, with no redaction option. Our rule
 * is that personal data never reaches a log unless LOG_SENSITIVE is on, so we swap the framework's global logger
 * (kept under a well-known global symbol) for one that drops those fields. Call it after the framework has
 * initialized its logger (after `cli.runApp` in the worker, in `prewarm` in a job process).
 */
export function redactFrameworkLogs(options: { includeSensitive: boolean }): void {
  if (options.includeSensitive) return;
  const globals = globalThis as Record<symbol, unknown>;
  const current = globals[LOGGER_KEY] as pino.Logger | undefined;
  if (!current || (current as unknown as { __piiStripped?: boolean }).__piiStripped) return;
  const replacement = pino({
    level: current.level,
    serializers: { error: pino.stdSerializers.err },
    formatters: { log: stripPii },
  });
  (replacement as unknown as { __piiStripped?: boolean }).__piiStripped = true;
  globals[LOGGER_KEY] = replacement;
}
