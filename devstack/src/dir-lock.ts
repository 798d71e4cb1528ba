import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DevstackError } from './errors.ts';
import { processIsAlive } from './processes/managed-process.ts';

/**
 * One stack per data dir. Without this, a second `npm start` on .devstack/ would take the first one's running
 * postmaster for a stale one (left by a SIGKILLed run) and stop it. The owner's pid goes into devstack.pid;
 * a pid that is gone, or now belongs to something other than Node, is stale and taken over.
 */
export function claimStackDir(dir: string): () => void {
  const file = path.join(dir, 'devstack.pid');
  let owner: number | undefined;
  try {
    owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    owner = undefined;
  }
  if (owner && owner !== process.pid && processIsAlive(owner) && isNode(owner)) {
    throw new DevstackError(
      `Another devstack (pid ${owner}) is running on ${dir}. Stop it, or use another DEVSTACK_DIR (or DEVSTACK_DIR=temp).`,
    );
  }
  writeFileSync(file, String(process.pid));
  return () => {
    try {
      if (Number.parseInt(readFileSync(file, 'utf8'), 10) === process.pid) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

function isNode(pid: number): boolean {
  try {
    return /node|tsx/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * Removes temp stack dirs (`<tmp>/devstack-*`) whose owner died without cleaning up (a SIGKILLed test run):
 * only dirs that still hold a devstack.pid naming a dead process and no live postmaster. A dir without a pid file
 * is never touched (being created right now, or kept on purpose with keepDir).
 */
export function sweepAbandonedStackDirs(parent: string, prefix = 'devstack-'): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((name) => name.startsWith(prefix));
  } catch {
    return removed;
  }
  for (const name of entries) {
    const dir = path.join(parent, name);
    const owner = readPid(path.join(dir, 'devstack.pid'));
    if (owner === undefined || processIsAlive(owner)) continue;
    const postmaster = readPid(path.join(dir, 'postgres', 'postmaster.pid'));
    if (postmaster !== undefined && processIsAlive(postmaster)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
