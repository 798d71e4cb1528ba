import { randomUUID } from 'node:crypto';
import {
  AccessToken,
  RoomAgentDispatch,
  RoomConfiguration,
  TokenVerifier,
  TrackSource,
} from 'livekit-server-sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type MintOptions, type MintRequest, mintParticipantToken } from '../../src/livekit-token.ts';

const options: MintOptions = {
  apiKey: 'APIkey123',
  apiSecret: 'a-livekit-api-secret-of-some-length-0123456789',
  agentName: 'voice-agent',
  ttlSeconds: 600,
  room: { maxParticipants: 2, emptyTimeoutSeconds: 30, departureTimeoutSeconds: 20 },
};

function request(participantName?: string): MintRequest {
  const userId = randomUUID();
  return {
    userId,
    roomName: `voice-${randomUUID()}`,
    ...(participantName ? { participantName } : {}),
    dispatch: {
      v: 1,
      session_id: randomUUID(),
      user_id: userId,
      conversation_id: randomUUID(),
      max_call_seconds: 1800,
    },
  };
}

/** What the service minted before it signed tokens itself: livekit-server-sdk's AccessToken, same grants. */
async function sdkToken(req: MintRequest): Promise<string> {
  const token = new AccessToken(options.apiKey, options.apiSecret, {
    identity: req.userId,
    ...(req.participantName ? { name: req.participantName } : {}),
    ttl: options.ttlSeconds,
  });
  token.addGrant({
    room: req.roomName,
    roomJoin: true,
    canPublish: true,
    canPublishSources: [TrackSource.MICROPHONE],
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: false,
  });
  token.roomConfig = new RoomConfiguration({
    name: req.roomName,
    maxParticipants: options.room.maxParticipants,
    emptyTimeout: options.room.emptyTimeoutSeconds,
    departureTimeout: options.room.departureTimeoutSeconds,
    agents: [new RoomAgentDispatch({ agentName: options.agentName, metadata: JSON.stringify(req.dispatch) })],
  });
  return token.toJwt();
}

describe('LiveKit participant token', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['without a display name', undefined],
    ['with a display name', 'Ada Lovelace'],
  ])('is byte for byte the token livekit-server-sdk writes (%s)', async (_name, participantName) => {
    // One clock for both, so exp and nbf agree.
    vi.useFakeTimers({ now: new Date('2026-12-06T01:02:03.456Z'), toFake: ['Date'] });
    const req = request(participantName);
    const minted = await mintParticipantToken(options, req);
    expect(minted.token).toBe(await sdkToken(req));
    expect(minted.expiresAt.toISOString()).toBe('2026-12-06T01:12:03.456Z');
  });

  it('verifies with the API secret and carries the identity, room, grants and dispatch', async () => {
    const req = request();
    const { token } = await mintParticipantToken(options, req);
    const claims = await new TokenVerifier(options.apiKey, options.apiSecret).verify(token);
    expect(claims.sub).toBe(req.userId);
    expect(claims.video).toMatchObject({
      room: req.roomName,
      roomJoin: true,
      canPublishSources: ['microphone'],
    });
    expect(claims.roomConfig?.agents?.[0]?.agentName).toBe('voice-agent');
    expect(JSON.parse(claims.roomConfig?.agents?.[0]?.metadata ?? '{}')).toEqual(req.dispatch);
    await expect(
      new TokenVerifier(options.apiKey, 'another-secret-entirely-0123456789').verify(token),
    ).rejects.toThrow();
  });
});
