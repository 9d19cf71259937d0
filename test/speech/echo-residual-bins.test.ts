import { describe, expect, it } from 'vitest';
import { resample } from '../../src/media/resampler.js';
import { ResidualSuppressor, type EchoEstimate, type Expectation } from '../../src/speech/echo/residual-suppressor.js';
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

/** 10 ms blocks of `pcm` at -45 dBFS or more (loud enough for the VAD to hear). */
const loudBlocks = (pcm: Int16Array) => {
  let loud = 0;
  for (let t = 0; t + BLOCK <= pcm.length; t += BLOCK) if (dbfs(pcm, t, t + BLOCK) >= -45) loud++;
  return loud;
};

/**
 * `input` through a suppressor frame by frame, with `echoAt(t)` the canceller's estimates for the frame at `t`: what
 * the VAD hears, moved back by the suppressor's latency (in step with `input`).
 */
function suppress(
  input: Int16Array,
  echoAt: (t: number) => EchoEstimate,
  expected: Expectation,
  measure: boolean,
): Int16Array {
  const suppressor = new ResidualSuppressor(RATE, 6, MAX_DELAY_MS);
  const heard = new Int16Array(input.length);
  for (let t = 0; t + FRAME <= input.length; t += FRAME)
    heard.set(suppressor.process(input.subarray(t, t + FRAME), echoAt(t), expected, measure), t);
  return heard.subarray(suppressor.latency);
}

/**
 * A canceller that leaves a tenth of the echo's amplitude (-20 dB) but measured a share of 0.3 (-5 dB: early in a
 * call its percentile still holds the blocks from before it converged), and a caller at the echo's own level (-24
 * dBFS): the residual is the caller, what is left of the echo and the line noise.
 */
function run(withCaller: boolean) {
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
  const heard = suppress(
    residual,
    (t) => ({
      reference: Float32Array.from(BOT.subarray(t, t + FRAME)),
      filter: filter.subarray(t, t + FRAME),
      line: line.subarray(t, t + FRAME),
    }),
    { by: 'canceller', share: 0.3, floor: NOISE_FLOOR },
    true,
  );
  return { heard, caller };
}

describe('ResidualSuppressor: bin by bin', () => {
  it('puts the audio back whole, a fixed number of samples late, where nothing is echo', () => {
    const zeros = new Float32Array(FRAME);
    const input = resample(level(clips[7]!.pcm, -24), 16_000, RATE).subarray(0, RATE);
    expect(new ResidualSuppressor(RATE, 6, MAX_DELAY_MS).latency).toBe(64);
    const heard = suppress(input, () => ({ reference: zeros, filter: zeros, line: zeros }), { by: 'none' }, false);
    let worst = 0;
    for (let i = 0; i < heard.length; i++) worst = Math.max(worst, Math.abs(heard[i]! - input[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  });

  // Where the bot's echo is as loud as the caller, a comparison of whole 10 ms blocks (the residual against the share
  // of the whole echo, as this suppressor did before) let 6 % of the caller's speech blocks reach the VAD within 6 dB
  // of their level; bin by bin, 59 %: two voices seldom fill the same bins at once.
  it('lets a caller at the echo level through in the bins their voice fills, and none of the echo alone', () => {
    expect(loudBlocks(run(false).heard)).toBe(0);

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
    const zeros = new Float32Array(FRAME);
    const rule = { by: 'guard', lagMs: 10, gains: new Float64Array(MAX_DELAY_MS / 10 + 1).fill(gain) } as const;
    const heardWith = (withCaller: boolean) => {
      const line = new Int16Array(LENGTH);
      for (let i = 0; i < LENGTH; i++)
        line[i] = Math.round(0.5 * (BOT[i - delay] ?? 0) + NOISE[i]! + (withCaller ? (caller[i] ?? 0) : 0));
      const echoAt = (t: number) => ({
        reference: Float32Array.from(BOT.subarray(t, t + FRAME)),
        filter: zeros,
        line: zeros,
      });
      return { line, heard: suppress(line, echoAt, rule, false) };
    };

    expect(loudBlocks(heardWith(false).heard)).toBe(0);

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
