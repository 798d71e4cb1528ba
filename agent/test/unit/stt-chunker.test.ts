import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { SttChunker } from '../../src/pipeline/voice-agent.ts';

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
  it('turns 10 ms frames into whole 100 ms frames with every sample in order', () => {
    const chunker = new SttChunker();
    const out = frames(25).flatMap((f) => chunker.push(f));
    const rest = chunker.flush();
    expect(out.map((f) => f.samplesPerChannel)).toEqual([1600, 1600]);
    expect(rest?.samplesPerChannel).toBe(800);
    const all = [...out, ...(rest ? [rest] : [])].flatMap((f) => [...f.data]);
    expect(all).toEqual(Array.from({ length: 4000 }, (_, i) => i % 32_000));
  });

  it('gives every chunk its own buffer (the Deepgram plugin sends frame.data.buffer whole)', () => {
    const chunker = new SttChunker();
    const out = frames(20).flatMap((f) => chunker.push(f));
    for (const f of out) {
      expect(f.data.byteOffset).toBe(0);
      expect(f.data.buffer.byteLength).toBe(3200);
    }
  });

  it('emits a chunk as soon as its last sample arrives (no added delay)', () => {
    const chunker = new SttChunker();
    const counts = frames(10).map((f) => chunker.push(f).length);
    expect(counts).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('flushes the partial chunk when the sample rate changes', () => {
    const chunker = new SttChunker();
    for (const f of frames(3, 16_000)) chunker.push(f);
    const out = chunker.push(frames(1, 24_000)[0] as AudioFrame);
    expect(out).toHaveLength(1);
    expect(out[0]?.sampleRate).toBe(16_000);
    expect(out[0]?.samplesPerChannel).toBe(480);
    expect(chunker.flush()?.sampleRate).toBe(24_000);
  });
});
