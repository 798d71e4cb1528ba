import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DisconnectReason, Room, RoomEvent } from '@livekit/rtc-node';
import { findFreeTcpPort, findFreeUdpPort } from '@voice/devstack/ports';
import { type RunningLivekit, startLivekit } from '@voice/devstack/processes/livekit';
import { resolveLivekitServer } from '@voice/devstack/processes/livekit-binary';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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

interface Grant {
  session_id: string;
  server_url: string;
  participant_token: string;
  room_name: string;
}

async function grantFor(accessToken: string): Promise<Grant> {
  const reply = await service.requestToken(accessToken, {});
  expect(reply.status).toBe(201);
  return reply.body as Grant;
}

async function join(grant: Grant): Promise<Room> {
  const room = new Room();
  await room.connect(grant.server_url, grant.participant_token, { autoSubscribe: false, dynacast: false });
  return room;
}

const roomService = () =>
  new RoomServiceClient(livekit.httpUrl, stack.livekit.apiKey, stack.livekit.apiSecret);

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

describe("what the token service does with the caller's connection events", () => {
  it('a session that never started ends with no duration billed', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await grantFor(user.accessToken);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const room = await join(grant);
    await room.disconnect();
    await until(
      () => sessionRow(grant.session_id),
      (r) => r?.status === 'ended',
      15_000,
    );
    const { data } = await db
      .from('voice_sessions')
      .select('end_reason, started_at, duration_seconds')
      .eq('id', grant.session_id)
      .single();
    expect(data).toMatchObject({ end_reason: 'caller_left', started_at: null });
    expect(Number(data?.duration_seconds)).toBe(0);
  });

  it('participant_connection_aborted (signalled, media never connected) ends the session at once', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await grantFor(user.accessToken);
    // A client that joins the signal channel and goes away before any media: livekit-server reports it as
    // participant_connection_aborted, not participant_left.
    const signal = new WebSocket(
      `${grant.server_url}/rtc?access_token=${grant.participant_token}&auto_subscribe=1&sdk=js&version=2.9.0&protocol=15`,
    );
    await new Promise<void>((resolve, reject) => {
      signal.once('message', () => resolve());
      signal.once('error', reject);
    });
    signal.close();
    const row = await until(
      () => sessionRow(grant.session_id),
      (r) => r?.status === 'ended',
      15_000,
    );
    expect(row).toEqual({ status: 'ended', end_reason: 'connection_aborted' });
  });

  it("the caller's full reconnect (same identity, new connection) does not end the call", async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await grantFor(user.accessToken);
    const first = await join(grant);
    const replaced = new Promise<number | undefined>((resolve) =>
      first.once(RoomEvent.Disconnected, (reason) => resolve(reason)),
    );
    // What a client SDK does after losing its connection for good: it joins again as the same participant, and
    // LiveKit drops the old connection with DUPLICATE_IDENTITY (participant_left).
    const second = await join(grant);
    try {
      expect(await replaced).toBe(DisconnectReason.DUPLICATE_IDENTITY);
      await until(
        async () => (await fetch(`${service.url}/metrics`)).text(),
        (text) => /livekit_webhooks_total\{event="participant_left",result="ignored"\} 1/.test(text),
        15_000,
      );
      expect(await sessionRow(grant.session_id)).toEqual({ status: 'pending', end_reason: null });
    } finally {
      await second.disconnect();
    }
    expect(
      await until(
        () => sessionRow(grant.session_id),
        (r) => r?.status === 'ended',
        15_000,
      ),
    ).toEqual({ status: 'ended', end_reason: 'caller_left' });
  });

  it('the caller joining starts the dispatch watchdog with a join deadline', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await grantFor(user.accessToken);
    const room = await join(grant);
    try {
      const row = await until(
        async () =>
          (
            await db
              .from('voice_sessions')
              .select('caller_joined_at, agent_join_deadline, agent_name, expires_at')
              .eq('id', grant.session_id)
              .single()
          ).data,
        (r) => Boolean(r?.caller_joined_at),
        15_000,
      );
      expect(row?.agent_name).toBe('voice-agent');
      const deadline = Date.parse(row?.agent_join_deadline ?? '');
      expect((deadline - Date.parse(row?.caller_joined_at ?? '')) / 1000).toBeCloseTo(30, 0);
      // The slot is held at least until the deadline.
      expect(Date.parse(row?.expires_at ?? '')).toBeGreaterThanOrEqual(deadline);
    } finally {
      await room.disconnect();
    }
  });

  it('rejoining with a used token after the call ended closes the room again at once', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await grantFor(user.accessToken);
    const first = await join(grant);
    await first.disconnect();
    await until(
      () => sessionRow(grant.session_id),
      (r) => r?.status === 'ended',
      15_000,
    );
    // The room closes after the departure timeout (1 s here); the token is still valid for joining.
    await until(
      async () => (await roomService().listRooms([grant.room_name])).length,
      (n) => n === 0,
      15_000,
    );

    const again = new Room();
    const disconnected = new Promise<number | undefined>((resolve) =>
      again.once(RoomEvent.Disconnected, (reason) => resolve(reason)),
    );
    // The room is closed as soon as LiveKit reports it (room_started, participant_joined): often before this
    // connect even completes, otherwise right after it.
    const outcome = await again
      .connect(grant.server_url, grant.participant_token, { autoSubscribe: false, dynacast: false })
      .then(
        () =>
          Promise.race([
            disconnected,
            new Promise<string>((resolve) => setTimeout(() => resolve('still connected'), 15_000)),
          ]),
        () => 'connect failed',
      );
    expect([DisconnectReason.ROOM_DELETED, 'connect failed']).toContain(outcome);
    await again.disconnect();
    expect(
      await until(
        async () => (await roomService().listRooms([grant.room_name])).length,
        (n) => n === 0,
        15_000,
      ),
    ).toBe(0);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(
      /livekit_webhooks_total\{event="(room_started|participant_joined)",result="closed"\}/,
    );
    expect(await sessionRow(grant.session_id)).toEqual({ status: 'ended', end_reason: 'caller_left' });
  });
});
