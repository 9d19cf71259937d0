import { describe, expect, it } from 'vitest';
import { EchoPath } from '../../src/media/echo-path.js';
import { resample } from '../../src/media/resampler.js';
import { DelayEstimator } from '../../src/speech/echo/delay-estimator.js';
import { concat, energyBoundaries, level, loadClips, silence } from './helpers.js';

const RATE = 8000;
const FRAME = 160;
const ms = (n: number) => (n * RATE) / 1000;

/** The bot's speech (from 0.6 s) over a 150 ms / 6 dB line into a DelayEstimator, caller and reference in step, as the guard feeds it. */
function heard(seconds: number): DelayEstimator {
  const clip = level(loadClips()[1]!.pcm, -18);
  // digital silence, then the clip from its first word (its room-noise lead left out)
  const words = clip.subarray(Math.round((energyBoundaries(clip).startMs * 16_000) / 1000));
  const bot = resample(concat(silence(600), words), 16_000, RATE);
  const line = new EchoPath({ delayMs: 150, erlDb: 6, noiseDbfs: -60, seed: 4, sampleRate: RATE });
  const estimator = new DelayEstimator(RATE, 500);
  for (let at = 0; at + FRAME <= ms(seconds * 1000); at += FRAME) {
    const mic = line.take(FRAME);
    const played = bot.subarray(at, at + FRAME);
    line.pushBot(played);
    for (let i = 0; i < FRAME; i++) estimator.push(mic[i]!, played[i]!);
  }
  return estimator;
}

describe('DelayEstimator.explainedAt', () => {
  it("bounds the echo at a range of delays: the echo's gain there, far less where it is not, nothing before the bot's words reach them", () => {
    // (the frame-by-frame line returns each frame one frame late: the echo sits at 170 ms)
    const at = (seconds: number, fromMs: number, toMs: number) => {
      const estimator = heard(seconds);
      expect(estimator.estimate(true)).not.toBeNull();
      return estimator.explainedAt(ms(fromMs), ms(toMs));
    };
    const gain = 10 ** (-6 / 10);
    // the strongest single lag of a filtered echo: under its whole gain, within PROBE_SAFETY (4) of it
    expect(at(2.5, 150, 190)).toBeGreaterThan(gain / 4);
    expect(at(2.5, 150, 190)).toBeLessThan(gain * 1.5);
    expect(at(2.5, 350, 390)).toBeLessThan(gain / 100);
    // 1.05 s in, the bot's first word (0.6 s) has not reached a 480 ms lag: a silent stretch bounds nothing there
    expect(at(1.05, 470, 490)).toBe(Infinity);
    // nothing to read without an estimate that asked for the explained gain
    const plain = heard(2.5);
    plain.estimate(false);
    expect(plain.explainedAt(ms(150), ms(190))).toBe(Infinity);
  });
});
