import { describe, expect, it } from 'vitest';
import { WindowAccumulator } from '../../src/speech/vad/windows.js';

/** Windows (copies) the accumulator hands out for the given pushes. */
function windowsOf(acc: WindowAccumulator, pushes: Int16Array[]): Int16Array[] {
  const out: Int16Array[] = [];
  for (const p of pushes) acc.push(p, (w) => out.push(w.slice()));
  return out;
}
const ramp = (from: number, n: number) => Int16Array.from({ length: n }, (_, i) => from + i);

describe('WindowAccumulator (the VAD windows, shared by the in-thread and the worker-fed VAD)', () => {
  it('20 ms frames give the same 512-sample windows, in order, as one long push; the remainder carries over', () => {
    const audio = ramp(0, 320 * 9); // 2,880 samples: 5 windows and 320 over
    const frames = Array.from({ length: 9 }, (_, i) => audio.subarray(i * 320, (i + 1) * 320));
    const byFrame = windowsOf(new WindowAccumulator(512), frames);
    const whole = windowsOf(new WindowAccumulator(512), [audio]);
    expect(byFrame).toHaveLength(5);
    expect(byFrame).toEqual(whole);
    expect(byFrame[4]![0]).toBe(4 * 512);
    // the 320 samples over start the next window
    const next = windowsOf(new WindowAccumulator(512), [...frames, ramp(2880, 192)]);
    expect(next).toHaveLength(6);
    expect(next[5]).toEqual(ramp(2560, 512));
  });

  it('clear() drops a partly filled window: the next window starts with the next push', () => {
    const acc = new WindowAccumulator(512);
    expect(windowsOf(acc, [ramp(0, 300)])).toHaveLength(0);
    acc.clear();
    const after = windowsOf(acc, [ramp(1000, 512)]);
    expect(after).toEqual([ramp(1000, 512)]);
  });
});
