import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Room } from '@livekit/rtc-node';
import { findFreeTcpPort, findFreeUdpPort } from '@voice/devstack/ports';
import { type RunningLivekit, startLivekit } from '@voice/devstack/processes/livekit';
import { resolveLivekitServer } from '@voice/devstack/processes/livekit-binary';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTokenService, startTokenService } from '../support/service.ts';

// Webhooks as the real livekit-server sends them (its own signing, headers and event bodies): a second
// livekit-server whose webhooks point at this test's token-service instance. The caller leaving ends the session.
const stack = testStack();
const db = serviceClient(stack);
let livekit: RunningLivekit;
let service: RunningTokenService;

beforeAll(async () => {
  const webhookPort = await findFreeTcpPort();
  livekit = await startLivekit({
    binary: await resolveLivekitServer({ log: () => undefined }),
    port: await findFreeTcpPort(),
    tcpPort: await findFreeTcpPort(),
    udpPort: await findFreeUdpPort(),
    apiKey: stack.livekit.apiKey,
    apiSecret: stack.livekit.apiSecret,
    webhookUrls: [`http://127.0.0.1:${webhookPort}/v1/livekit/webhook`],
    logFile: path.join(mkdtempSync(path.join(os.tmpdir(), 'token-webhooks-')), 'livekit-server.log'),
  });
  service = await startTokenService(
    { ...stack, livekit: { ...stack.livekit, url: livekit.url } },
    { VOICE_MAX_ISSUANCES_PER_MINUTE: '100', VOICE_ROOM_DEPARTURE_TIMEOUT_SECONDS: '1' },
    webhookPort,
  );
});
afterAll(async () => {
  await service?.close();
  await livekit?.stop();
});

async function sessionRow(id: string) {
  const { data } = await db.from('voice_sessions').select('status, end_reason').eq('id', id).single();
  return data;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() - started > timeoutMs) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('webhooks from a real livekit-server', () => {
  it('the caller leaving the room ends the session (participant_left, then room_finished is harmless)', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const reply = await service.requestToken(user.accessToken, {});
    expect(reply.status).toBe(201);
    const body = reply.body as { session_id: string; server_url: string; participant_token: string };
    expect(body.server_url).toBe(livekit.url);

    const room = new Room();
    await room.connect(body.server_url, body.participant_token, { autoSubscribe: false, dynacast: false });
    // Joining is not leaving: the session stays live.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await sessionRow(body.session_id)).toEqual({ status: 'pending', end_reason: null });
    await room.disconnect();

    const row = await until(
      () => sessionRow(body.session_id),
      (r) => r?.status === 'ended',
      15_000,
    );
    expect(row).toEqual({ status: 'ended', end_reason: 'caller_left' });

    // room_finished follows when the room closes; the first reason stays, and the metrics saw both events.
    await until(
      async () => (await fetch(`${service.url}/metrics`)).text(),
      (text) => text.includes('event="room_finished"'),
      15_000,
    );
    expect(await sessionRow(body.session_id)).toEqual({ status: 'ended', end_reason: 'caller_left' });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/livekit_webhooks_total\{event="participant_left",result="ended"\} 1/);
    expect(metrics).not.toContain('result="rejected"');
  });
});
