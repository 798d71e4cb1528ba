import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processIsAlive } from '../../src/processes/managed-process.ts';
import { startStack } from '../../src/stack.ts';
import { testStack } from '../../src/testing/stack.ts';
import { anonClient, createTestUser, serviceClient } from '../../src/testing/users.ts';

describe('stack lifecycle', () => {
  it('starts, stops without leaving a process, and starts again on the same data', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'devstack-lifecycle-'));
    try {
      const first = await startStack({
        dir,
        disposableData: true,
        handleSignals: false,
        log: () => undefined,
      });
      const firstPids = first.pids();
      expect(firstPids).toHaveLength(3); // postgres, postgrest, livekit-server
      for (const pid of firstPids) expect(processIsAlive(pid)).toBe(true);
      const user = await createTestUser(first.info);
      await first.stop();
      for (const pid of firstPids) expect(processIsAlive(pid), `pid ${pid} survived stop()`).toBe(false);
      await expect(fetch(`${first.info.supabaseUrl}/health`)).rejects.toThrow();

      const second = await startStack({
        dir,
        disposableData: true,
        handleSignals: false,
        log: () => undefined,
      });
      try {
        // Same data dir: the user created in the first run still signs in.
        const client = anonClient(second.info);
        const signIn = await client.auth.signInWithPassword({ email: user.email, password: user.password });
        expect(signIn.error).toBeNull();
        expect(signIn.data.user?.id).toBe(user.id);
      } finally {
        const secondPids = second.pids();
        await second.stop();
        for (const pid of secondPids) expect(processIsAlive(pid), `pid ${pid} survived stop()`).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops and starts the shared stack database through the control endpoint', async () => {
    const stack = testStack();
    const admin = serviceClient(stack);
    const before = await admin.from('profiles').select('id').limit(1);
    expect(before.error).toBeNull();

    const stopped = await fetch(`${stack.controlUrl}/postgres/stop`, { method: 'POST' });
    expect(stopped.status).toBe(200);
    const during = await admin.from('profiles').select('id').limit(1);
    expect(during.error).not.toBeNull();

    const started = await fetch(`${stack.controlUrl}/postgres/start`, { method: 'POST' });
    expect(started.status).toBe(200);
    const after = await admin.from('profiles').select('id').limit(1);
    expect(after.error).toBeNull();
  });
});
