import { describe, expect, it } from 'vitest';
import { resample } from '../../src/media/resampler.js';
import { ResidualSuppressor } from '../../src/speech/echo/residual-suppressor.js';
import { level, loadClips, whiteNoise } from './helpers.js';

const RATE = 8000;
const FRAME = 160;
const BLOCK = 80;
const FULL_SCALE = 32768;
const clips = loadClips();
/** the bot at -18 dBFS and its echo 6 dB down (aligned: the canceller's delay is right) */
const BOT = resample(level(clips[0]!.pcm, -18), 16_000, RATE);
const LENGTH = Math.min(BOT.length, 5 * RATE);
/** line noise at -60 dBFS */
const NOISE = resample(whiteNoise((LENGTH / RATE) * 1000, FULL_SCALE * 10 ** (-60 / 20), 16_000, 5), 16_000, RATE);
const NOISE_FLOOR = (FULL_SCALE * 10 ** (-60 / 20)) ** 2;
const MAX_DELAY_MS = 530;

const dbfs = (pcm: ArrayLike<number>, from: number, to: number) => {
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i]! * pcm[i]!;
  return 10 * Math.log10(sum / (to - from) / FULL_SCALE ** 2 + 1e-12);
};

/**
 * A canceller that leaves a tenth of the echo's amplitude (-20 dB) but measured a share of 0.3 (-5 dB: early in a
 * call its percentile still holds the blocks from before it converged), and a caller at the echo's own level (-24
 * dBFS): the residual is the caller, what is left of the echo and the line noise.
 */
function run(withCaller: boolean) {
  const suppressor = new ResidualSuppressor(RATE, 6, MAX_DELAY_MS);
  const caller = resample(level(clips[7]!.pcm, -24), 16_000, RATE);
  const residual = new Int16Array(LENGTH);
  const filter = new Float32Array(LENGTH);
  const line = new Float32Array(LENGTH);
  for (let i = 0; i < LENGTH; i++) {
    const echo = 0.5 * BOT[i]!;
    filter[i] = 0.9 * echo;
    line[i] = echo;
    residual[i] = Math.round(0.1 * echo + NOISE[i]! + (withCaller ? (caller[i] ?? 0) : 0));
  }
  const heard = new Int16Array(LENGTH);
  for (let t = 0; t + FRAME <= LENGTH; t += FRAME) {
    const out = suppressor.process(
      residual.subarray(t, t + FRAME),
      {
        reference: Float32Array.from(BOT.subarray(t, t + FRAME)),
        filter: filter.subarray(t, t + FRAME),
        line: line.subarray(t, t + FRAME),
      },
      { by: 'canceller', share: 0.3, floor: NOISE_FLOOR },
      true,
    );
    heard.set(out, t);
  }
  return { heard: heard.subarray(suppressor.latency), caller, latency: suppressor.latency };
}

describe('ResidualSuppressor: bin by bin', () => {
  it('puts the audio back whole, a fixed number of samples late, where nothing is echo', () => {
    const suppressor = new ResidualSuppressor(RATE, 6, MAX_DELAY_MS);
    const zeros = new Float32Array(FRAME);
    const input = resample(level(clips[7]!.pcm, -24), 16_000, RATE).subarray(0, RATE);
    const out = new Int16Array(input.length);
    for (let t = 0; t + FRAME <= input.length; t += FRAME)
      out.set(
        suppressor.process(
          input.subarray(t, t + FRAME),
          { reference: zeros, filter: zeros, line: zeros },
          { by: 'none' },
          false,
        ),
        t,
      );
    expect(suppressor.latency).toBe(64);
    let worst = 0;
    for (let i = suppressor.latency; i < out.length; i++)
      worst = Math.max(worst, Math.abs(out[i]! - input[i - suppressor.latency]!));
    expect(worst).toBeLessThanOrEqual(1);
  });

  // Where the bot's echo is as loud as the caller, a comparison of whole 10 ms blocks (the residual against the share
  // of the whole echo, as this suppressor did before) let 6 % of the caller's speech blocks reach the VAD within 6 dB
  // of their level; bin by bin, 59 %: two voices seldom fill the same bins at once.
  it('lets a caller at the echo level through in the bins their voice fills, and none of the echo alone', () => {
    const alone = run(false);
    let echoLoud = 0;
    for (let t = 0; t + BLOCK <= alone.heard.length; t += BLOCK) if (dbfs(alone.heard, t, t + BLOCK) >= -45) echoLoud++;
    expect(echoLoud).toBe(0);

    const { heard, caller } = run(true);
    const echo = BOT.map((sample) => 0.5 * sample);
    let speech = 0;
    let passed = 0;
    for (let t = 0; t + BLOCK <= heard.length; t += BLOCK) {
      const own = dbfs(caller, t, t + BLOCK);
      // blocks of the caller's speech with the echo there as loud as they are, or 3 dB less at most
      if (own < -35 || dbfs(echo, t, t + BLOCK) < own - 3) continue;
      speech++;
      if (dbfs(heard, t, t + BLOCK) >= own - 6) passed++;
    }
    expect(speech).toBeGreaterThan(80);
    expect(passed / speech).toBeGreaterThan(0.45);
  });

  // Before the canceller has measured the line, the level guard's rule decides: the echo may come from any lag up to
  // the longest delay, at `minErlDb` (6 dB) down. Applied to whole 10 ms blocks (the guard's own output, which the VAD
  // heard before) against the loudest of the bot's audio in range, a caller who talks over the bot's first words is
  // heard only in their blocks louder than that; bin by bin, against the most the bot's audio held in each bin over
  // that range, also where the bot's recent words left the bins their voice fills empty.
  it("applies the guard's rule bin by bin: a caller over the bot's first words passes, its echo does not", () => {
    const delay = 0.3 * RATE;
    const gain = 10 ** (-6 / 10);
    const caller = resample(level(clips[7]!.pcm, -24), 16_000, RATE);
    const heardWith = (withCaller: boolean) => {
      const suppressor = new ResidualSuppressor(RATE, 6, MAX_DELAY_MS);
      const zeros = new Float32Array(FRAME);
      const line = new Int16Array(LENGTH);
      for (let i = 0; i < LENGTH; i++)
        line[i] = Math.round(0.5 * (BOT[i - delay] ?? 0) + NOISE[i]! + (withCaller ? (caller[i] ?? 0) : 0));
      const heard = new Int16Array(LENGTH);
      for (let t = 0; t + FRAME <= LENGTH; t += FRAME) {
        const echo = { reference: Float32Array.from(BOT.subarray(t, t + FRAME)), filter: zeros, line: zeros };
        const rule = { by: 'guard', fromMs: 0, toMs: MAX_DELAY_MS, gain } as const;
        heard.set(suppressor.process(line.subarray(t, t + FRAME), echo, rule, false), t);
      }
      return { line, heard: heard.subarray(suppressor.latency) };
    };

    const alone = heardWith(false).heard;
    let echoLoud = 0;
    for (let t = 0; t + BLOCK <= alone.length; t += BLOCK) if (dbfs(alone, t, t + BLOCK) >= -45) echoLoud++;
    expect(echoLoud).toBe(0);

    const { line, heard } = heardWith(true);
    const lags = MAX_DELAY_MS / 10;
    let speech = 0;
    let binsPassed = 0;
    let blocksPassed = 0;
    for (let t = 0; t + BLOCK <= heard.length; t += BLOCK) {
      const own = dbfs(caller, t, t + BLOCK);
      if (own < -35) continue;
      speech++;
      if (dbfs(heard, t, t + BLOCK) >= own - 6) binsPassed++;
      // the whole-block rule: the block must be `marginDb` above the gain times the loudest bot block in range
      let loudest = -Infinity;
      for (let lag = 0; lag <= lags; lag++) {
        const from = t - lag * BLOCK;
        if (from >= 0) loudest = Math.max(loudest, dbfs(BOT, from, from + BLOCK));
      }
      if (dbfs(line, t, t + BLOCK) >= loudest + 10 * Math.log10(gain) + 6) blocksPassed++;
    }
    // 238 of the caller's speech blocks: 41 passed whole by the block rule, 56 within 6 dB of their level bin by bin
    expect(speech).toBeGreaterThan(200);
    expect(blocksPassed).toBeGreaterThan(20);
    expect(binsPassed).toBeGreaterThan(1.25 * blocksPassed);
  });
});
