import { describe, expect, it } from 'vitest';
import { FrameChunker, samplesPerFrame } from '../../src/media/frames.js';

describe('samplesPerFrame', () => {
  it('gives 160 / 320 samples for 20 ms at 8 / 16 kHz', () => {
    expect(samplesPerFrame(8000)).toBe(160);
    expect(samplesPerFrame(16000)).toBe(320);
    expect(samplesPerFrame(48000, 10)).toBe(480);
  });
  it('rejects frame sizes that are not whole samples', () => {
    expect(() => samplesPerFrame(22050, 1)).toThrow(/whole number/);
  });
});

describe('FrameChunker', () => {
  it('cuts arbitrary chunks into whole frames, in order, keeping the remainder', () => {
    const c = new FrameChunker(4);
    const out: number[][] = [];
    const input = Int16Array.from({ length: 23 }, (_, i) => i + 1);
    for (const [a, b] of [
      [0, 1],
      [1, 3],
      [3, 3],
      [3, 12],
      [12, 23],
    ] as const) {
      for (const f of c.push(input.subarray(a, b))) {
        expect(f.length).toBe(4);
        out.push([...f]);
      }
    }
    expect(out.flat()).toEqual([...input.subarray(0, 20)]);
    expect(c.buffered).toBe(3);
    expect([...c.flush()!]).toEqual([21, 22, 23]);
    expect(c.flush()).toBeNull();
  });

  it('pads the last frame with silence when asked', () => {
    const c = new FrameChunker(4);
    c.push(Int16Array.of(7, 8));
    expect([...c.flush(true)!]).toEqual([7, 8, 0, 0]);
  });

  it('returns frames the caller may keep (not views of its buffer)', () => {
    const c = new FrameChunker(2);
    const [first] = c.push(Int16Array.of(1, 2, 3));
    c.push(Int16Array.of(9, 9, 9));
    expect([...first!]).toEqual([1, 2]);
  });
});
