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
import type { StackInfo } from '@voice/devstack/stack-info';
import { AccessToken } from 'livekit-server-sdk';
import { frameRms, HEARD_RMS } from '../../e2e/src/agent-speech.ts';
import { type Summary, summarize } from './lib/stats.ts';

const SOURCE_RATE = 24_000;
const FRAME_MS = 10;

/**
 * The WebRTC floor under voice-to-voice: one leg of audio through livekit-server on this machine, measured from
 * the moment a tone leaves the publisher's (shallow) send queue to its first loud frame at the subscriber. Opus
 * framing, the SFU, the receiver's jitter buffer and rtc-node's delivery are all in it; a turn crosses it twice
 * (caller → agent, agent → caller). Publisher and subscriber are rtc-node, as the agent and the bench caller are.
 */
export async function measureAudioLeg(
  livekit: StackInfo['livekit'],
  options: { onsets: number },
): Promise<Summary> {
  const room = `transport-${Date.now()}`;
  const token = (identity: string) => {
    const at = new AccessToken(livekit.apiKey, livekit.apiSecret, { identity });
    at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true });
    return at.toJwt();
  };
  const publisher = new Room();
  const subscriber = new Room();
  const latencies: number[] = [];
  let toneLeftAt = 0;
  let reading: Promise<void> | undefined;
  subscriber.on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
    if (track.kind !== TrackKind.KIND_AUDIO || reading) return;
    reading = (async () => {
      for await (const frame of new AudioStream(track, { sampleRate: 48_000, numChannels: 1 })) {
        if (toneLeftAt && frameRms(frame) > HEARD_RMS) {
          latencies.push(Date.now() - toneLeftAt);
          toneLeftAt = 0;
        }
      }
    })();
  });
  try {
    await subscriber.connect(livekit.url, await token('listener'), { autoSubscribe: true, dynacast: false });
    await publisher.connect(livekit.url, await token('speaker'), { autoSubscribe: false, dynacast: false });
    // A send queue of 30 ms: captureFrame waits while it is full, so audio leaves ~when it is captured.
    const source = new AudioSource(SOURCE_RATE, 1, 30);
    const publish = new TrackPublishOptions();
    publish.source = TrackSource.SOURCE_MICROPHONE;
    await publisher.localParticipant?.publishTrack(LocalAudioTrack.createAudioTrack('tone', source), publish);
    const samples = (SOURCE_RATE * FRAME_MS) / 1000;
    const silence = new Int16Array(samples);
    const tone = Int16Array.from({ length: samples }, (_, i) =>
      Math.round(8_000 * Math.sin((2 * Math.PI * 440 * i) / SOURCE_RATE)),
    );
    for (let onset = 0; onset < options.onsets + 1; onset++) {
      for (let i = 0; i < 60; i++)
        await source.captureFrame(new AudioFrame(silence, SOURCE_RATE, 1, samples));
      // The tone's first frame leaves once what is queued ahead of it has been sent.
      const leavesAt = Date.now() + source.queuedDuration;
      for (let i = 0; i < 30; i++) {
        if (i === 0 && onset > 0) toneLeftAt = leavesAt; // the first onset warms the path and is not counted
        await source.captureFrame(new AudioFrame(tone, SOURCE_RATE, 1, samples));
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    return summarize(latencies);
  } finally {
    await publisher.disconnect();
    await subscriber.disconnect();
  }
}
