import { randomUUID } from 'node:crypto';
import { dispose, Room } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { testStack } from '../../src/testing/stack.ts';

// The real livekit-server of the stack, reached with the real SDKs.
describe('livekit-server', () => {
  const stack = testStack();
  const rooms = new RoomServiceClient(
    stack.livekit.url.replace(/^ws/, 'http'),
    stack.livekit.apiKey,
    stack.livekit.apiSecret,
  );

  afterAll(async () => {
    // rtc-node's native runtime keeps the process alive until disposed.
    await dispose();
  });

  it('creates, lists and deletes a room with livekit-server-sdk', async () => {
    const name = `devstack-${randomUUID()}`;
    const created = await rooms.createRoom({ name, emptyTimeout: 60 });
    expect(created.name).toBe(name);
    expect((await rooms.listRooms()).map((r) => r.name)).toContain(name);
    expect((await rooms.listRooms([name])).map((r) => r.name)).toEqual([name]);
    await rooms.deleteRoom(name);
    expect((await rooms.listRooms()).map((r) => r.name)).not.toContain(name);
  });

  it('lets a token minted with the dev keys join a room from @livekit/rtc-node', async () => {
    const roomName = `devstack-join-${randomUUID()}`;
    const token = new AccessToken(stack.livekit.apiKey, stack.livekit.apiSecret, {
      identity: 'caller-1',
      ttl: '5m',
    });
    token.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true });
    const room = new Room();
    try {
      await room.connect(stack.livekit.url, await token.toJwt(), { autoSubscribe: true, dynacast: false });
      expect(room.isConnected).toBe(true);
      expect(room.name).toBe(roomName);
      // The server sees the participant, so the join really happened there.
      const participants = await rooms.listParticipants(roomName);
      expect(participants.map((p) => p.identity)).toEqual(['caller-1']);
    } finally {
      await room.disconnect();
    }
    await rooms.deleteRoom(roomName);
  });

  it('refuses a token signed with another secret', async () => {
    const token = new AccessToken(stack.livekit.apiKey, 'not-the-secret-at-all-not-the-secret', {
      identity: 'mallory',
    });
    token.addGrant({ roomJoin: true, room: 'x' });
    const room = new Room();
    await expect(
      room.connect(stack.livekit.url, await token.toJwt(), { autoSubscribe: false, dynacast: false }),
    ).rejects.toThrow();
  });
});
