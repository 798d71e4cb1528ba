import type { ReadableStream } from 'node:stream/web';
import { TransformStream } from 'node:stream/web';
import { voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';

type ModelSettings = Parameters<voice.Agent['sttNode']>[1];

/**
 * The call's agent: the default pipeline, except that the audio handed to STT is metered on its way (billed STT
 * seconds are measured here, not taken from Deepgram's metrics) and arrives in the chunks the Deepgram plugin
 * sends anyway (see {@link SttChunker}).
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
    const chunker = new SttChunker();
    const metered = new TransformStream<AudioFrame, AudioFrame>({
      transform(frame, controller) {
        try {
          onFrame(frame);
        } catch {
          // metering must never break the audio path
        }
        for (const chunk of chunker.push(frame)) controller.enqueue(chunk);
      },
      flush(controller) {
        const rest = chunker.flush();
        if (rest) controller.enqueue(rest);
      },
    });
    const source = isReadableStream(audio) ? audio : toReadable(audio);
    return voice.Agent.default.sttNode(this, source.pipeThrough(metered), modelSettings);
  }
}

/**
 * How much caller audio goes to Deepgram per message. Deepgram accepts 20–100 ms; a chunk is sent only once it is
 * full, so its length adds to the time the end of the caller's speech takes to reach Deepgram (half of it on
 * average): 20 ms rather than the plugin's 100 ms saves ~40 ms of it. The plugin (1.9) hard-codes
 * 100 ms; patches/@livekit+agents-plugin-deepgram+1.9.0.patch sets it to this value (a unit test checks the two
 * agree on the wire).
 */
export const STT_CHUNK_MS = 20;

/**
 * Re-chunks caller audio into {@link STT_CHUNK_MS} frames. The Deepgram plugin (1.9) builds its chunks with
 * AudioByteStream.write, which copies its whole pending buffer through an array spread on every input frame:
 * ~10 % of a call's JS thread in the profile at 10 ms frames into 100 ms chunks. Handed whole chunks, it makes one
 * copy per chunk. The chunks are exactly the plugin's own (same boundaries from the first sample), so nothing
 * reaches Deepgram later than it would without this. Every chunk owns its buffer: the plugin sends
 * `frame.data.buffer`, not the view.
 */
export class SttChunker {
  #buf: Int16Array | undefined;
  #filled = 0;
  #rate = 0;
  #channels = 0;

  push(frame: AudioFrame): AudioFrame[] {
    const out: AudioFrame[] = [];
    if (frame.sampleRate !== this.#rate || frame.channels !== this.#channels) {
      const rest = this.flush();
      if (rest) out.push(rest);
      this.#rate = frame.sampleRate;
      this.#channels = frame.channels;
    }
    const chunkLength = Math.floor((this.#rate * STT_CHUNK_MS) / 1000) * this.#channels;
    const data = frame.data.subarray(0, frame.samplesPerChannel * frame.channels);
    let offset = 0;
    while (offset < data.length) {
      this.#buf ??= new Int16Array(chunkLength);
      const n = Math.min(chunkLength - this.#filled, data.length - offset);
      this.#buf.set(data.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === chunkLength) {
        out.push(new AudioFrame(this.#buf, this.#rate, this.#channels, chunkLength / this.#channels));
        this.#buf = undefined;
        this.#filled = 0;
      }
    }
    return out;
  }

  /** The partial chunk left at the end of the stream (or before a format change), if any. */
  flush(): AudioFrame | undefined {
    if (!this.#buf || this.#filled === 0) return undefined;
    const samples = this.#buf.slice(0, this.#filled);
    this.#buf = undefined;
    this.#filled = 0;
    return new AudioFrame(samples, this.#rate, this.#channels, samples.length / this.#channels);
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
