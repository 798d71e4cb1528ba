import {
  AudioSource,
  LocalAudioTrack,
  LocalVideoTrack,
  Room,
  TrackPublishOptions,
  TrackSource,
  VideoSource,
} from '@livekit/rtc-node';
import { dispatchMetadataSchema } from '@voice/core';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { decodeJwt } from 'jose';
import { TokenSource } from 'livekit-client';
import { AgentDispatchClient, RoomServiceClient, TrackSource as ServerTrackSource } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTokenService, startTokenService } from '../support/service.ts';

// A signed-in Studio user gets a token that really joins a LiveKit room with our agent dispatched; other tiers
// get nothing and leave nothing behind. Real auth server, PostgREST, Postgres and livekit-server.
const stack = testStack();
const AGENT = 'voice-agent';
let service: RunningTokenService;

beforeAll(async () => {
  service = await startTokenService(stack, { AGENT_NAME: AGENT, VOICE_MAX_ISSUANCES_PER_MINUTE: '100' });
});
afterAll(() => service?.close());

const httpUrl = () => stack.livekit.url.replace(/^ws/, 'http');

describe('POST /v1/token', () => {
  it('gives a studio user a token that joins a fresh room carrying the agent dispatch', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const reply = await service.requestToken(user.accessToken, { participant_name: 'Ada' });
    expect(reply.status).toBe(201);
    const body = reply.body;
    if ('error' in body && body.error) throw new Error(body.error.message);
    expect(body).toMatchObject({
      server_url: stack.livekit.url,
      participant_token: expect.any(String),
      session_id: expect.any(String),
      room_name: `voice-${body.session_id}`,
      conversation_id: expect.any(String),
      agent_join_timeout_seconds: 30,
      limits: { concurrent_calls_max: 3, concurrent_calls_in_use: 1, monthly_minutes_max: 600 },
    });
    expect(reply.headers.get('cache-control')).toBe('no-store');

    // The token: identity = user, grants for this room only, short TTL, room config with our dispatch.
    const claims = decodeJwt(body.participant_token) as Record<string, never> & {
      sub: string;
      exp: number;
      video: Record<string, unknown>;
      roomConfig: { agents: { agentName: string; metadata: string }[]; maxParticipants: number };
    };
    expect(claims.sub).toBe(user.id);
    expect(claims.video).toEqual({
      room: body.room_name,
      roomJoin: true,
      canPublish: true,
      canPublishSources: ['microphone'],
      canSubscribe: true,
      canPublishData: true,
      canUpdateOwnMetadata: false,
    });
    expect(claims.exp - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(120);
    expect(claims.roomConfig.maxParticipants).toBe(3);
    expect(claims.roomConfig.agents).toHaveLength(1);
    expect(claims.roomConfig.agents[0]?.agentName).toBe(AGENT);
    const metadata = dispatchMetadataSchema.parse(JSON.parse(claims.roomConfig.agents[0]?.metadata ?? ''));
    expect(metadata).toMatchObject({
      session_id: body.session_id,
      user_id: user.id,
      conversation_id: body.conversation_id,
      max_call_seconds: 1800,
    });

    // The session row: pending, with a lease, for this user and a conversation the user owns.
    const db = serviceClient(stack);
    const { data: row } = await db.from('voice_sessions').select('*').eq('id', body.session_id).single();
    expect(row).toMatchObject({ user_id: user.id, status: 'pending', room_name: body.room_name });
    const { data: conversation } = await user.client
      .from('conversations')
      .select('id, user_id')
      .eq('id', body.conversation_id)
      .single();
    expect(conversation).toMatchObject({ user_id: user.id });

    // Join with real WebRTC signalling; LiveKit creates the room from the token with our dispatch in it.
    const room = new Room();
    try {
      await room.connect(body.server_url, body.participant_token, { autoSubscribe: true, dynacast: false });
      expect(room.name).toBe(body.room_name);
      expect(room.localParticipant?.identity).toBe(user.id);

      const rooms = new RoomServiceClient(httpUrl(), stack.livekit.apiKey, stack.livekit.apiSecret);
      const participants = await rooms.listParticipants(body.room_name);
      expect(participants.map((p) => p.identity)).toEqual([user.id]);
      const [info] = await rooms.listRooms([body.room_name]);
      expect(info?.maxParticipants).toBe(3);

      const dispatches = await new AgentDispatchClient(
        httpUrl(),
        stack.livekit.apiKey,
        stack.livekit.apiSecret,
      ).listDispatch(body.room_name);
      expect(dispatches.map((d) => d.agentName)).toEqual([AGENT]);
      expect(dispatchMetadataSchema.parse(JSON.parse(dispatches[0]?.metadata ?? ''))).toEqual(metadata);
    } finally {
      await room.disconnect();
    }
  });

  it('lets the caller publish the microphone and nothing else (no camera, no screen share)', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const reply = await service.requestToken(user.accessToken, {});
    const body = reply.body as { server_url: string; participant_token: string };
    const room = new Room();
    const audio = new AudioSource(48_000, 1);
    const video = new VideoSource(64, 64);
    const publish = (track: LocalAudioTrack | LocalVideoTrack, source: TrackSource) => {
      const options = new TrackPublishOptions();
      options.source = source;
      return room.localParticipant!.publishTrack(track, options);
    };
    try {
      await room.connect(body.server_url, body.participant_token, { autoSubscribe: false, dynacast: false });
      const microphone = await publish(
        LocalAudioTrack.createAudioTrack('microphone', audio),
        TrackSource.SOURCE_MICROPHONE,
      );
      expect(microphone.sid).toBeTruthy();
      await expect(
        publish(LocalVideoTrack.createVideoTrack('camera', video), TrackSource.SOURCE_CAMERA),
      ).rejects.toThrow();
      await expect(
        publish(LocalVideoTrack.createVideoTrack('screen', video), TrackSource.SOURCE_SCREENSHARE),
      ).rejects.toThrow();
      // What LiveKit holds for the room: the microphone only.
      const rooms = new RoomServiceClient(httpUrl(), stack.livekit.apiKey, stack.livekit.apiSecret);
      const [caller] = await rooms.listParticipants(room.name!);
      expect(caller?.tracks.map((t) => t.source)).toEqual([ServerTrackSource.MICROPHONE]);
    } finally {
      await room.disconnect();
      await Promise.allSettled([audio.close(), video.close()]);
    }
  });

  it("works unchanged with livekit-client's TokenSource.endpoint", async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const source = TokenSource.endpoint(`${service.url}/v1/token`, {
      headers: { Authorization: `Bearer ${user.accessToken}` },
    });
    const result = await source.fetch({ agentName: AGENT, participantName: 'Grace' });
    expect(result.serverUrl).toBe(stack.livekit.url);
    expect(decodeJwt(result.participantToken).sub).toBe(user.id);

    // Asking for another agent through the SDK is refused.
    const other = TokenSource.endpoint(`${service.url}/v1/token`, {
      headers: { Authorization: `Bearer ${user.accessToken}` },
    });
    await expect(other.fetch({ agentName: 'someone-elses-agent' })).rejects.toThrow(/400/);
  });

  it.each(['free', 'core'] as const)(
    'refuses a %s user with 403 TIER_REQUIRED and leaves no rows',
    async (tier) => {
      const user = await createTestUser(stack, { tier });
      const reply = await service.requestToken(user.accessToken, {});
      expect(reply.status).toBe(403);
      expect(reply.body).toMatchObject({
        error: { code: 'TIER_REQUIRED', message: expect.stringMatching(/upgrade/i) },
      });
      const db = serviceClient(stack);
      const { count: sessions } = await db
        .from('voice_sessions')
        .select('id', { count: 'exact', head: true })
        .eq('user_id', user.id);
      const { count: conversations } = await db
        .from('conversations')
        .select('id', { count: 'exact', head: true })
        .eq('user_id', user.id);
      expect(sessions).toBe(0);
      expect(conversations).toBe(0);
    },
  );

  it("continues the user's own conversation and refuses anyone else's or an unknown one with 404", async () => {
    const owner = await createTestUser(stack, { tier: 'studio' });
    const other = await createTestUser(stack, { tier: 'studio' });
    const { data: conversation, error } = await owner.client
      .from('conversations')
      .insert({ user_id: owner.id, title: 'Earlier chat' })
      .select('id')
      .single();
    expect(error).toBeNull();

    const own = await service.requestToken(owner.accessToken, { conversation_id: conversation?.id });
    expect(own.status).toBe(201);
    expect(own.body).toMatchObject({ conversation_id: conversation?.id });

    const theirs = await service.requestToken(other.accessToken, { conversation_id: conversation?.id });
    expect(theirs.status).toBe(404);
    expect(theirs.body).toMatchObject({ error: { code: 'CONVERSATION_NOT_FOUND' } });

    const unknown = await service.requestToken(other.accessToken, {
      conversation_id: '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.status).toBe(404);
    const { count } = await serviceClient(stack)
      .from('voice_sessions')
      .select('id', { count: 'exact', head: true })
      .eq('user_id', other.id);
    expect(count).toBe(0);
  });

  it('ignores client-chosen identity and room name', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const reply = await service.requestToken(user.accessToken, {
      participant_identity: 'admin',
      room_name: 'someone-elses-room',
    });
    expect(reply.status).toBe(201);
    if ('error' in reply.body && reply.body.error) throw new Error('unexpected error');
    const claims = decodeJwt(reply.body.participant_token) as { sub: string; video: { room: string } };
    expect(claims.sub).toBe(user.id);
    expect(claims.video.room).not.toBe('someone-elses-room');
  });
});
