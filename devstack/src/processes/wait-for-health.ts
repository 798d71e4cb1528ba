import { readFileSync } from 'node:fs';
import { DevstackError } from '../errors.ts';
import type { ManagedProcess } from './managed-process.ts';

/** The last lines of a log file, for error messages that point at the real cause. */
export function logTail(logFile: string, lines = 15): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `check` until it returns true. Gives up early if the process has exited (with the tail of its log,
 * which names the cause: a port in use, a bad config key, ...) or after `timeoutMs`.
 */
export async function waitForHealth(options: {
  what: string;
  check: () => Promise<boolean>;
  process?: ManagedProcess;
  logFile?: string;
  timeoutMs?: number;
  intervalMs?: number;
}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const interval = options.intervalMs ?? 50;
  for (;;) {
    if (options.process && !options.process.running) {
      const { code, signal } = await options.process.exited;
      throw new DevstackError(
        `${options.what} exited during start-up (code ${code}, signal ${signal}).` +
          (options.logFile ? `\nLast lines of ${options.logFile}:\n${logTail(options.logFile)}` : ''),
      );
    }
    if (await options.check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new DevstackError(
        `${options.what} did not become healthy within ${options.timeoutMs ?? 30_000} ms.` +
          (options.logFile ? `\nLast lines of ${options.logFile}:\n${logTail(options.logFile)}` : ''),
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** True if GET `url` answers with a 2xx status. */
export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.ok;
}
