import { describe, expect, it } from 'vitest';
import { Resampler, resample } from '../../src/media/resampler.js';

function tone(freq: number, rate: number, seconds: number, amplitude = 10000): Int16Array {
  const n = Math.round(rate * seconds);
  return Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate)));
}

/** RMS over the middle half, away from the filter's start-up and tail. */
function rms(x: Int16Array): number {
  const from = Math.floor(x.length / 4);
  const to = Math.floor((3 * x.length) / 4);
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / (to - from));
}

const db = (ratio: number) => 20 * Math.log10(ratio);

describe('Resampler', () => {
  const pairs: Array<[number, number]> = [
    [8000, 16000],
    [16000, 8000],
    [22050, 8000],
    [22050, 16000],
    [24000, 8000],
    [24000, 16000],
    [44100, 8000],
    [44100, 16000],
    [48000, 8000],
    [48000, 16000],
  ];

  it.each(pairs)('keeps a 1 kHz tone within 0.5 dB: %i → %i Hz', (from, to) => {
    const input = tone(1000, from, 0.5);
    const out = resample(input, from, to);
    expect(out.length).toBe(Math.ceil((input.length * to) / from));
    expect(Math.abs(db(rms(out) / rms(input)))).toBeLessThan(0.5);
  });

  it('keeps the output aligned with the input (group delay compensated)', () => {
    const input = tone(500, 8000, 0.25);
    const out = resample(input, 8000, 16000);
    // Every second output sample sits on an input sample instant.
    let err = 0;
    for (let i = 200; i < 1800; i++) err = Math.max(err, Math.abs(out[2 * i]! - input[i]!));
    expect(err).toBeLessThan(100); // a half-sample offset would show ~980 on this 500 Hz tone
  });

  it('attenuates a 6 kHz tone by at least 40 dB going 16 → 8 kHz', () => {
    const input = tone(6000, 16000, 0.5);
    const out = resample(input, 16000, 8000);
    expect(db(rms(out) / rms(input))).toBeLessThan(-40);
  });

  it('attenuates out-of-band content going 44.1 / 48 kHz → 8 kHz', () => {
    for (const from of [44100, 48000]) {
      const input = tone(9000, from, 0.25);
      expect(db(rms(resample(input, from, 8000)) / rms(input))).toBeLessThan(-40);
    }
  });

  it('does not create images going 8 → 16 kHz (a 3 kHz tone has no 5 kHz image)', () => {
    const out = resample(tone(3000, 8000, 0.5), 8000, 16000);
    // Goertzel power at 5 kHz vs 3 kHz.
    const power = (f: number) => {
      const w = (2 * Math.PI * f) / 16000;
      let s1 = 0;
      let s2 = 0;
      for (let i = 2000; i < 6000; i++) {
        const s = out[i]! + 2 * Math.cos(w) * s1 - s2;
        s2 = s1;
        s1 = s;
      }
      return s1 * s1 + s2 * s2 - 2 * Math.cos(w) * s1 * s2;
    };
    expect(10 * Math.log10(power(5000) / power(3000))).toBeLessThan(-40);
  });

  it.each(pairs)('streams in arbitrary chunk sizes bit-exactly like one pass: %i → %i Hz', (from, to) => {
    const input = Int16Array.from({ length: 7919 }, (_, i) => ((i * 7919) % 20011) - 10000);
    const oneShot = resample(input, from, to);
    const r = new Resampler(from, to);
    const parts: Int16Array[] = [];
    let at = 0;
    let step = 1;
    while (at < input.length) {
      parts.push(r.process(input.subarray(at, at + step)));
      at += step;
      step = (step * 7 + 3) % 611; // 1, 10, 73, 514, ... including 0-length chunks
    }
    parts.push(r.flush());
    const streamed = Int16Array.from(parts.flatMap((p) => [...p]));
    expect(streamed).toEqual(oneShot);
  });

  it('writes into a caller buffer with the same samples, and rejects one that is too small', () => {
    const input = tone(1000, 8000, 0.1);
    const a = new Resampler(8000, 16000);
    const b = new Resampler(8000, 16000);
    const scratch = new Int16Array(b.maxOutput(160));
    for (let at = 0; at < input.length; at += 160) {
      const chunk = input.subarray(at, at + 160);
      const fresh = a.process(chunk);
      const into = b.process(chunk, scratch);
      expect(into.buffer).toBe(scratch.buffer);
      expect(into).toEqual(fresh);
    }
    expect(() => b.process(new Int16Array(160), new Int16Array(10))).toThrow(RangeError);
  });

  it('clips instead of wrapping on overshoot', () => {
    const square = Int16Array.from({ length: 800 }, (_, i) => (Math.floor(i / 20) % 2 ? 32767 : -32768));
    const out = resample(square, 8000, 16000);
    let maxJump = 0;
    for (let i = 1; i < out.length; i++) maxJump = Math.max(maxJump, Math.abs(out[i]! - out[i - 1]!));
    expect(maxJump).toBeLessThan(40000); // a wrapped sample would jump ~65535
  });

  it('is reusable after flush and reset', () => {
    const r = new Resampler(16000, 8000);
    const input = tone(1000, 16000, 0.1);
    const a = [...r.process(input), ...r.flush()];
    const b = [...r.process(input), ...r.flush()];
    expect(b).toEqual(a);
  });

  it('passes equal rates through and rejects unsupported rates', () => {
    const x = Int16Array.of(1, 2, 3);
    expect(resample(x, 16000, 16000)).toEqual(x);
    expect(() => new Resampler(12345, 8000)).toThrow(/unsupported rate 12345/);
  });
});
