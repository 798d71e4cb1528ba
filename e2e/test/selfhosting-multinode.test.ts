import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freeTurnPorts,
  type LivekitNode,
  productionNodeEnv,
  type RunningRedis,
  startLivekitNode,
  startRedis,
  type TurnCertificate,
  writeTurnCertificate,
} from '../src/livekit-cluster.ts';

// Scaling LiveKit out, for real: two livekit-server processes started from livekit.yaml share one Redis
// (Debian's redis-server). A caller joins through node A and a listener through node B; the room lives on one node
// and LiveKit routes the other node's participant to it. The listener must hear the caller's tone (over real
// WebRTC), and each node's API must see both participants.

const dir = mkdtempSync(join(tmpdir(), 'selfhosting-multinode-'));
const apiKey = `API${randomBytes(6).toString('hex')}`;
const apiSecret = randomBytes(24).toString('base64url');
const SAMPLE_RATE = 48_000;
const TONE_HZ = 440;

let redis: RunningRedis;
let turn: TurnCertificate;
let nodeA: LivekitNode;
let nodeB: LivekitNode;

async function nodeEnv(): Promise<Record<string, string>> {
  return productionNodeEnv({ apiKey, apiSecret, redis, turn, turnPorts: await freeTurnPorts() });
}

async function token(room: string, identity: string): Promise<string> {
  const at = new AccessToken(apiKey, apiSecret, { identity, ttl: 300 });
  at.addGrant({ room, roomJoin: true, canPublish: true, canSubscribe: true });
  return await at.toJwt();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

beforeAll(async () => {
  turn = writeTurnCertificate(dir, 'turn.selfhosting.test');
  redis = await startRedis(dir, randomBytes(12).toString('hex'));
  nodeA = await startLivekitNode({
    configFile: 'livekit.yaml',
    env: await nodeEnv(),
    logFile: join(dir, 'a.log'),
  });
  nodeB = await startLivekitNode({
    configFile: 'livekit.yaml',
    env: await nodeEnv(),
    logFile: join(dir, 'b.log'),
  });
});

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('two LiveKit nodes sharing Redis', () => {
  it('both nodes register in the shared Redis', () => {
    const nodes = execFileSync('redis-cli', [
      '-h',
      '127.0.0.1',
      '-p',
      redis.address.split(':')[1] as string,
      '--no-auth-warning',
      '-a',
      redis.password,
      'hkeys',
      'nodes',
    ])
      .toString()
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('ND_'));
    expect(nodes).toHaveLength(2);
  });

  it('a caller on node A is heard by a participant that joined through node B', async () => {
    const roomName = `multinode-${randomBytes(4).toString('hex')}`;
    const caller = new Room();
    const listener = new Room();
    const source = new AudioSource(SAMPLE_RATE, 1);
    let pumping = true;
    try {
      await caller.connect(nodeA.url, await token(roomName, 'caller'), {
        autoSubscribe: false,
        dynacast: false,
      });
      const track = LocalAudioTrack.createAudioTrack('microphone', source);
      const options = new TrackPublishOptions();
      options.source = TrackSource.SOURCE_MICROPHONE;
      await caller.localParticipant?.publishTrack(track, options);
      // A 440 Hz tone at half scale, 10 ms frames in real time.
      const pump = (async () => {
        const perFrame = SAMPLE_RATE / 100;
        const started = Date.now();
        for (let i = 0; pumping; i++) {
          const frame = new Int16Array(perFrame);
          for (let n = 0; n < perFrame; n++) {
            frame[n] = Math.round(
              16_000 * Math.sin((2 * Math.PI * TONE_HZ * (i * perFrame + n)) / SAMPLE_RATE),
            );
          }
          await source.captureFrame(new AudioFrame(frame, SAMPLE_RATE, 1, perFrame)).catch(() => undefined);
          const wait = started + (i + 1) * 10 - Date.now();
          if (wait > 0) await sleep(wait);
        }
      })();

      const heard = new Promise<{ rms: number; hz: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('listener on node B heard nothing in 20 s')), 20_000);
        listener.on(RoomEvent.TrackSubscribed, async (remote: RemoteTrack) => {
          if (remote.kind !== TrackKind.KIND_AUDIO) return;
          const stream = new AudioStream(remote, { sampleRate: SAMPLE_RATE, numChannels: 1 });
          // Skip the first half second (jitter buffer fill, Opus warm-up), then measure one second.
          const samples: number[] = [];
          let skipped = 0;
          for await (const frame of stream) {
            if (skipped < SAMPLE_RATE / 2) {
              skipped += frame.data.length;
              continue;
            }
            for (const s of frame.data) samples.push(s / 32768);
            if (samples.length >= SAMPLE_RATE) break;
          }
          clearTimeout(timer);
          const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
          let crossings = 0;
          for (let i = 1; i < samples.length; i++) {
            if ((samples[i - 1] as number) < 0 && (samples[i] as number) >= 0) crossings++;
          }
          resolve({ rms, hz: crossings / (samples.length / SAMPLE_RATE) });
        });
      });
      await listener.connect(nodeB.url, await token(roomName, 'listener'), {
        autoSubscribe: true,
        dynacast: false,
      });

      const { rms, hz } = await heard;
      // Half-scale sine: RMS ≈ 0.35 before Opus; silence would be ~0. The pitch survives the trip.
      expect(rms).toBeGreaterThan(0.1);
      expect(hz).toBeGreaterThan(TONE_HZ * 0.95);
      expect(hz).toBeLessThan(TONE_HZ * 1.05);

      // Both nodes' APIs see the same room with both participants: one cluster, not two islands.
      for (const node of [nodeA, nodeB]) {
        const rooms = new RoomServiceClient(node.httpUrl, apiKey, apiSecret);
        const participants = await rooms.listParticipants(roomName);
        expect(participants.map((p) => p.identity).sort()).toEqual(['caller', 'listener']);
      }
      pumping = false;
      await pump;
    } finally {
      pumping = false;
      await listener.disconnect();
      await caller.disconnect();
      await source.close();
      await new RoomServiceClient(nodeA.httpUrl, apiKey, apiSecret)
        .deleteRoom(roomName)
        .catch(() => undefined);
    }
  });
});
