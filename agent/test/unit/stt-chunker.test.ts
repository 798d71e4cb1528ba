import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { STT_CHUNK_MS, SttChunker } from '../../src/pipeline/voice-agent.ts';

/** 10 ms frames of a counting signal, so any reordering or loss shows in the samples. */
function frames(count: number, rate = 16_000): AudioFrame[] {
  const per = rate / 100;
  return Array.from({ length: count }, (_, f) => {
    const data = new Int16Array(per);
    for (let i = 0; i < per; i++) data[i] = (f * per + i) % 32_000;
    return new AudioFrame(data, rate, 1, per);
  });
}

describe('SttChunker', () => {
  it('turns 10 ms frames into whole STT_CHUNK_MS frames with every sample in order', () => {
    const chunker = new SttChunker();
    const out = frames(25).flatMap((f) => chunker.push(f));
    const rest = chunker.flush();
    const chunk = (16_000 * STT_CHUNK_MS) / 1000;
    expect(out.map((f) => f.samplesPerChannel)).toEqual(
      Array.from({ length: Math.floor(4000 / chunk) }, () => chunk),
    );
    expect(rest?.samplesPerChannel ?? 0).toBe(4000 % chunk);
    const all = [...out, ...(rest ? [rest] : [])].flatMap((f) => [...f.data]);
    expect(all).toEqual(Array.from({ length: 4000 }, (_, i) => i % 32_000));
  });

  it('gives every chunk its own buffer (the Deepgram plugin sends frame.data.buffer whole)', () => {
    const chunker = new SttChunker();
    const out = frames(20).flatMap((f) => chunker.push(f));
    for (const f of out) {
      expect(f.data.byteOffset).toBe(0);
      expect(f.data.buffer.byteLength).toBe(((16_000 * STT_CHUNK_MS) / 1000) * 2);
    }
  });

  it('emits a chunk as soon as its last sample arrives (no added delay)', () => {
    const chunker = new SttChunker();
    const perChunk = STT_CHUNK_MS / 10;
    const counts = frames(2 * perChunk).map((f) => chunker.push(f).length);
    expect(counts).toEqual(counts.map((_, i) => ((i + 1) % perChunk === 0 ? 1 : 0)));
  });

  it('flushes the partial chunk when the sample rate changes', () => {
    const chunker = new SttChunker();
    // 5 ms of audio: less than any chunk.
    chunker.push(new AudioFrame(new Int16Array(80), 16_000, 1, 80));
    const out = chunker.push(frames(1, 24_000)[0] as AudioFrame);
    expect(out).toHaveLength(1);
    expect(out[0]?.sampleRate).toBe(16_000);
    expect(out[0]?.samplesPerChannel).toBe(80);
    expect(chunker.flush()?.sampleRate).toBe(24_000);
  });
});
