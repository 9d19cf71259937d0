import { describe, expect, it } from 'vitest';
import { lastVoicedFrame } from '../../bench/lib/turns.js';
import { gaussian, mulberry32 } from '../../src/core/random.js';
import { concat } from '../speech/helpers.js';

const RATE = 16_000;
const FRAME_MS = 20;

/** `ms` of a 200 Hz tone at `rms`, then of white noise at `rms` (seeded): stand-ins for speech and line noise. */
function tone(ms: number, rms: number): Int16Array {
  const n = (ms * RATE) / 1000;
  return Int16Array.from({ length: n }, (_, i) =>
    Math.round(rms * Math.SQRT2 * Math.sin((2 * Math.PI * 200 * i) / RATE)),
  );
}
function noise(ms: number, rms: number, seed: number): Int16Array {
  const g = gaussian(mulberry32(seed));
  return Int16Array.from({ length: (ms * RATE) / 1000 }, () => Math.round(rms * g()));
}
const db = (x: number) => 10 ** (x / 20);

describe('lastVoicedFrame (where a bench turn ends and its latency starts)', () => {
  const SPEECH = 6000;

  it('noise 33 dB under the speech is not speech: the turn ends with the last loud frame, not the last frame', () => {
    // a hissy recording: its noise floor is within 35 dB of the peak, so the old rule took the whole tail
    const pcm = concat(noise(500, SPEECH * db(-33), 1), tone(1000, SPEECH), noise(1000, SPEECH * db(-33), 2));
    const last = lastVoicedFrame(pcm);
    expect(last).toBeGreaterThanOrEqual(1500 / FRAME_MS - 2);
    expect(last).toBeLessThanOrEqual(1500 / FRAME_MS);
    expect(last).toBeLessThan(pcm.length / (RATE / 1000) / FRAME_MS - 10);
  });

  it("a quiet last sound well above a clean recording's floor still counts (the rule does not cut decays)", () => {
    const pcm = concat(
      noise(500, SPEECH * db(-55), 3),
      tone(1000, SPEECH),
      tone(200, SPEECH * db(-30)),
      noise(1000, SPEECH * db(-55), 4),
    );
    const last = lastVoicedFrame(pcm);
    expect(last).toBeGreaterThanOrEqual(1700 / FRAME_MS - 2);
    expect(last).toBeLessThanOrEqual(1700 / FRAME_MS);
  });

  it('speech that runs to the end of the turn ends on its last frame', () => {
    const pcm = concat(noise(500, SPEECH * db(-40), 5), tone(1000, SPEECH));
    expect(lastVoicedFrame(pcm)).toBe(1500 / FRAME_MS - 1);
  });
});
