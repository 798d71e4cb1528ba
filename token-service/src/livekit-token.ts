import { type DispatchMetadata, dispatchMetadataSchema } from '@voice/core';
import { AccessToken, RoomAgentDispatch, RoomConfiguration, TrackSource } from 'livekit-server-sdk';

/**
 * Mints the caller's LiveKit token. Everything security-relevant is decided here, server-side: identity = the
 * verified user id, a room that exists for this session only, grants for that room only (join, publish the
 * microphone and nothing else, subscribe, data; no admin, recording or room-creation rights), a short TTL (the token is only needed to join; LiveKit
 * hands the connected client refreshed tokens itself), and the room's configuration including the agent dispatch
 * with trusted metadata. Creating the room through the token (rather than a RoomService call) saves a round trip
 * and means an unused token never leaves a room behind.
 */
export interface MintOptions {
  apiKey: string;
  apiSecret: string;
  agentName: string;
  ttlSeconds: number;
  room: { maxParticipants: number; emptyTimeoutSeconds: number; departureTimeoutSeconds: number };
}

export interface MintRequest {
  userId: string;
  roomName: string;
  /** Display name only (shown to the agent/other participants); never an identity. */
  participantName?: string;
  dispatch: DispatchMetadata;
}

export interface MintedToken {
  token: string;
  expiresAt: Date;
}

export async function mintParticipantToken(options: MintOptions, request: MintRequest): Promise<MintedToken> {
  // Validate what the agent will trust, so a bug here cannot dispatch the agent with nonsense.
  const metadata = dispatchMetadataSchema.parse(request.dispatch);
  const issuedAt = Date.now();
  const token = new AccessToken(options.apiKey, options.apiSecret, {
    identity: request.userId,
    ...(request.participantName ? { name: request.participantName } : {}),
    ttl: options.ttlSeconds,
  });
  token.addGrant({
    room: request.roomName,
    roomJoin: true,
    canPublish: true,
    // A voice call: no camera, no screen share (LiveKit refuses to publish any other source).
    canPublishSources: [TrackSource.MICROPHONE],
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: false,
  });
  token.roomConfig = new RoomConfiguration({
    name: request.roomName,
    maxParticipants: options.room.maxParticipants,
    emptyTimeout: options.room.emptyTimeoutSeconds,
    departureTimeout: options.room.departureTimeoutSeconds,
    agents: [new RoomAgentDispatch({ agentName: options.agentName, metadata: JSON.stringify(metadata) })],
  });
  return { token: await token.toJwt(), expiresAt: new Date(issuedAt + options.ttlSeconds * 1000) };
}
