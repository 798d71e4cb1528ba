import { voice } from '@livekit/agents';

/**
 * The caller's audio as the job receives it from LiveKit. Silero VAD and Deepgram streaming both take 16 kHz
 * mono; RoomIO's default is 24 kHz, which made the VAD and the STT stream each run their own 24→16 kHz
 * resampler over the FFI (a protobuf request per 10 ms frame each, ~14 % of a call's JS thread in the profile).
 * Asking rtc-node's AudioStream for 16 kHz resamples once, in Rust, where the Opus decoder already runs.
 */
export const CALLER_AUDIO_SAMPLE_RATE = 16_000;

type StartOptions = Parameters<voice.AgentSession['start']>[0];

/** AgentSession whose room input defaults to {@link CALLER_AUDIO_SAMPLE_RATE} mono (explicit options still win). */
export class CallAgentSession extends voice.AgentSession {
  override start(options: StartOptions): Promise<void> {
    return super.start({
      ...options,
      inputOptions: {
        audioSampleRate: CALLER_AUDIO_SAMPLE_RATE,
        audioNumChannels: 1,
        ...options.inputOptions,
      },
    });
  }
}
