import { describe, expect, it } from 'vitest';
import { concatPcm } from '../../src/media/pcm.js';

describe('concatPcm', () => {
  it('joins chunks in order, skipping empty ones', () => {
    const out = concatPcm([Int16Array.of(1, 2), new Int16Array(0), Int16Array.of(-3), Int16Array.of(4, 5, 6)]);
    expect([...out]).toEqual([1, 2, -3, 4, 5, 6]);
  });

  it('copies: the result shares no memory with its inputs, even for one chunk', () => {
    const only = Int16Array.of(7, 8, 9);
    const out = concatPcm([only]);
    out[0] = 0;
    expect([...only]).toEqual([7, 8, 9]);
  });

  it('reads subarray views at their own offset', () => {
    const base = Int16Array.of(10, 11, 12, 13, 14);
    expect([...concatPcm([base.subarray(3), base.subarray(0, 2)])]).toEqual([13, 14, 10, 11]);
  });

  it('gives an empty buffer for no chunks', () => {
    expect(concatPcm([])).toHaveLength(0);
  });
});
