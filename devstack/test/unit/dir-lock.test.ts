import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimStackDir, sweepAbandonedStackDirs } from '../../src/dir-lock.ts';

// Above the kernel's pid_max (4194304 at most), so no process can have it.
const DEAD_PID = 4_194_305;

describe('stack dirs', () => {
  let parent: string;
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  const stackDir = (name: string, owner?: number) => {
    const dir = path.join(parent, name);
    mkdirSync(dir);
    if (owner !== undefined) writeFileSync(path.join(dir, 'devstack.pid'), String(owner));
    return dir;
  };

  it('sweeps only temp stack dirs whose owner died', () => {
    parent = mkdtempSync(path.join(os.tmpdir(), 'sweep-'));
    const abandoned = stackDir('devstack-dead', DEAD_PID);
    const live = stackDir('devstack-live', process.pid);
    const kept = stackDir('devstack-kept');
    const other = stackDir('something-else', DEAD_PID);
    expect(sweepAbandonedStackDirs(parent)).toEqual([abandoned]);
    expect(existsSync(abandoned)).toBe(false);
    for (const dir of [live, kept, other]) expect(existsSync(dir)).toBe(true);
  });

  it('lets one process claim a dir, takes over a dead owner, and releases it', () => {
    parent = mkdtempSync(path.join(os.tmpdir(), 'claim-'));
    const dir = stackDir('devstack-x', DEAD_PID);
    const release = claimStackDir(dir);
    expect(existsSync(path.join(dir, 'devstack.pid'))).toBe(true);
    release();
    expect(existsSync(path.join(dir, 'devstack.pid'))).toBe(false);
  });
});
