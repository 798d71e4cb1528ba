import { readFileSync } from 'node:fs';

/** CAP_SYS_NICE, the capability that lets a process raise its priority (lower its nice value) again. */
const CAP_SYS_NICE_BIT = 23n;

/**
 * Whether this process may raise a thread's priority back to normal: root, or CAP_SYS_NICE in the effective
 * set (Linux, read from /proc/self/status). Job processes are only started niced when they can be raised back for
 * the call; otherwise (the image runs as an unprivileged user) the call itself would run niced.
 */
export function canRaisePriority(status = readProcStatus(), uid = process.getuid?.()): boolean {
  if (uid === 0) return true;
  const hex = status?.match(/^CapEff:\s*([0-9a-f]+)$/im)?.[1];
  if (!hex) return false;
  return ((BigInt(`0x${hex}`) >> CAP_SYS_NICE_BIT) & 1n) === 1n;
}

function readProcStatus(): string | undefined {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
}
