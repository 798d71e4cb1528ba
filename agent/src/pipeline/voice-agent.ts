import type { ReadableStream } from 'node:stream/web';
import { TransformStream } from 'node:stream/web';
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

type ModelSettings = Parameters<voice.Agent['sttNode']>[1];

/**
 * The call's agent: the default pipeline, except that the audio handed to STT is metered on its way (billed STT
 * seconds are measured here, not taken from Deepgram's metrics).
 */
export class VoiceAgent extends voice.Agent {
  readonly #onSttAudio: (frame: AudioFrame) => void;

  constructor(options: voice.AgentOptions<unknown> & { onSttAudio: (frame: AudioFrame) => void }) {
    const { onSttAudio, ...agentOptions } = options;
    super(agentOptions);
    this.#onSttAudio = onSttAudio;
  }

  override async sttNode(
    audio: ReadableStream<AudioFrame> | AsyncIterable<AudioFrame>,
    modelSettings: ModelSettings,
  ): ReturnType<voice.Agent['sttNode']> {
    const onFrame = this.#onSttAudio;
    const metered = new TransformStream<AudioFrame, AudioFrame>({
      transform(frame, controller) {
        try {
          onFrame(frame);
        } catch {
          // metering must never break the audio path
        }
        controller.enqueue(frame);
      },
    });
    const source = isReadableStream(audio) ? audio : toReadable(audio);
    return voice.Agent.default.sttNode(this, source.pipeThrough(metered), modelSettings);
  }
}

function isReadableStream<T>(x: ReadableStream<T> | AsyncIterable<T>): x is ReadableStream<T> {
  return typeof (x as ReadableStream<T>).getReader === 'function';
}

function toReadable<T>(it: AsyncIterable<T>): ReadableStream<T> {
  const iterator = it[Symbol.asyncIterator]();
  return new (globalThis.ReadableStream as unknown as typeof import('node:stream/web').ReadableStream)<T>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
}
