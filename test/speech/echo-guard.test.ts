import { describe, expect, it } from 'vitest';
import { EchoPath, type EchoPathOptions } from '../../src/media/echo-path.js';
import { echoConfig, type EchoConfig } from '../../src/speech/echo/config.js';
import { EchoGuard } from '../../src/speech/echo/echo-guard.js';
import { resample } from '../../src/media/resampler.js';
import { concat, energy, energyBoundaries, level, loadClips, silence, whiteNoise } from './helpers.js';

const RATE = 16_000;
const FRAME = 320;
const clips = loadClips();
/** the bot's prompt: real speech, so the echo has a speech envelope */
const BOT = clips[1]!.pcm;
/** the caller: another speaker */
const CALLER = clips[5]!.pcm;

const db = (ratio: number) => 10 * Math.log10(ratio);

/**
 * The caller's 10 ms blocks at speech level (-35 dBFS or more, 160 samples) over their first `span` samples, and how
 * many of them the guard passed (at a quarter of their energy or more); the caller starts at `from` in `residual`.
 */
function callerBlocksPassed(
  own: Int16Array,
  residual: Int16Array,
  from = 0,
  span = own.length,
): { speech: number; passed: number } {
  let speech = 0;
  let passed = 0;
  for (let at = 0; at + 160 <= Math.min(own.length, span, residual.length - from); at += 160) {
    const e = energy(own, at, at + 160);
    if (e < (32768 * 10 ** (-35 / 20)) ** 2) continue;
    speech++;
    if (energy(residual, from + at, from + at + 160) >= e / 4) passed++;
  }
  return { speech, passed };
}

interface Run {
  /** what the line sent (echo + caller) */
  line: Int16Array;
  /** what the guard gave the VAD */
  residual: Int16Array;
  guard: EchoGuard;
}

/**
 * The bot plays `bot` frame by frame; the line returns its echo (plus `caller` from `callerAtMs`); the guard sees
 * the played frames as reference and the line as caller audio, as on a call.
 */
function run(
  path: Omit<EchoPathOptions, 'sampleRate'>,
  cfg: Partial<EchoConfig> = {},
  caller?: { pcm: Int16Array; atMs: number },
  bot = BOT,
): Run {
  const echo = new EchoPath({ ...path, sampleRate: RATE });
  const guard = new EchoGuard(echoConfig.parse(cfg), RATE, RATE);
  const frames = Math.ceil(bot.length / FRAME);
  const line = new Int16Array(frames * FRAME);
  const residual = new Int16Array(frames * FRAME);
  const callerFrom = caller ? Math.round((caller.atMs * RATE) / 1000) : Infinity;
  for (let f = 0; f < frames; f++) {
    const at = f * FRAME;
    const own = new Int16Array(FRAME);
    if (caller && at + FRAME > callerFrom) {
      for (let i = 0; i < FRAME; i++) own[i] = caller.pcm[at + i - callerFrom] ?? 0;
    }
    const heard = echo.take(FRAME, own);
    const played = new Int16Array(FRAME);
    played.set(bot.subarray(at, at + FRAME));
    echo.pushBot(played);
    guard.reference(played);
    line.set(heard, at);
    residual.set(guard.process(heard), at);
  }
  return { line, residual, guard };
}

describe('EchoPath', () => {
  it('returns the bot audio delayed and ERL dB down, seeded, with noise and μ-law on request', () => {
    const burst = whiteNoise(200, 8000, RATE, 3);
    const path = new EchoPath({ sampleRate: RATE, delayMs: 120, erlDb: 12, seed: 7 });
    path.pushBot(burst);
    const out = path.take(RATE); // one second of line
    const delay = (120 * RATE) / 1000;
    expect(energy(out, 0, delay)).toBe(0);
    // white noise through the path: the energy is exactly ERL lower (±1 dB for the filter's colouring of a finite burst)
    expect(db(energy(burst) / energy(out, delay, delay + burst.length))).toBeCloseTo(12, 0);
    const again = new EchoPath({ sampleRate: RATE, delayMs: 120, erlDb: 12, seed: 7 });
    again.pushBot(burst);
    expect(again.take(RATE)).toEqual(out);

    const noisy = new EchoPath({ sampleRate: RATE, delayMs: 20, erlDb: 12, noiseDbfs: -50, mulaw: true, seed: 7 });
    const line = noisy.take(RATE);
    expect(db(energy(line) / 32768 ** 2)).toBeCloseTo(-50, 0);
    expect(() => new EchoPath({ sampleRate: RATE, delayMs: 10, erlDb: 6 })).toThrow(/at least one 20 ms frame/);
  });
});

describe('EchoGuard', () => {
  it('measures the echo delay and return loss and keeps the echo 20 dB or more below what the line sent', () => {
    for (const [delayMs, erlDb] of [
      [40, 6],
      [150, 12],
      [300, 6],
    ] as const) {
      const { line, residual, guard } = run({ delayMs, erlDb, mulaw: true, seed: delayMs });
      const { delayMs: measured, erlDb: loss } = guard.stats;
      expect(Math.abs(measured! - delayMs), `delay ${delayMs}`).toBeLessThanOrEqual(30);
      expect(Math.abs(loss! - erlDb), `ERL ${erlDb}`).toBeLessThanOrEqual(5);
      const settled = RATE; // after the first second
      expect(db(energy(line, settled) / energy(residual, settled)), `${delayMs} ms`).toBeGreaterThan(20);
      expect(guard.stats.suspectedEcho).toBeGreaterThan(0);
    }
  });

  it('an echo later than the first measurements (a 300 ms line behind a 160 ms playout buffer) is kept from the VAD', () => {
    // a steady tone (its envelope carries no timing) and speech; the echo comes back after the guard has measured
    // 0.3 s of the bot talking and nothing coming back: that silence is no proof of a line without echo
    const tone = Int16Array.from({ length: 2 * RATE }, (_, i) =>
      Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / RATE)),
    );
    for (const [name, bot] of [
      ['tone', tone],
      ['speech', BOT],
    ] as const) {
      const { line, residual } = run({ delayMs: 460, erlDb: 6, mulaw: true, seed: 3 }, { minErlDb: 6 }, undefined, bot);
      const loud: number[] = [];
      for (let at = 0; at + FRAME <= line.length; at += FRAME) {
        if (db(energy(residual, at, at + FRAME) / 32768 ** 2) > -45) loud.push(at / FRAME);
      }
      expect(energy(line), name).toBeGreaterThan(0);
      expect({ name, loud }).toEqual({ name, loud: [] });
    }
  });

  it('a reference late by a few frames while the bot talks (a stalled event loop) does not shift the alignment', () => {
    const frames = Math.floor(BOT.length / FRAME);
    const leaked = (delayMs: number, stallFrames: number) => {
      const echo = new EchoPath({ sampleRate: RATE, delayMs, erlDb: 6, mulaw: true, seed: 5 });
      const guard = new EchoGuard(echoConfig.parse({ minErlDb: 6 }), RATE, RATE);
      const late: Int16Array[] = [];
      const loud: number[] = [];
      for (let f = 0; f < frames; f++) {
        const played = BOT.slice(f * FRAME, (f + 1) * FRAME);
        const heard = echo.take(FRAME);
        echo.pushBot(played);
        // 1.5 s in, the bot's frames reach the guard only after the caller's, then all at once
        late.push(played);
        if (f < 75 || f >= 75 + stallFrames) for (const p of late.splice(0)) guard.reference(p);
        const out = guard.process(heard);
        if (f >= 75 && db(energy(out) / 32768 ** 2) > -45) loud.push(f);
      }
      return loud;
    };
    for (const delayMs of [150, 310]) {
      for (const stall of [0, 3, 8])
        expect({ delayMs, stall, loud: leaked(delayMs, stall) }).toEqual({ delayMs, stall, loud: [] });
    }
  });

  it('after a pause, the next prompt’s echo is kept from the VAD (300 ms, 30 dB: the line is not taken for one without echo)', () => {
    // A prompt, a second of silence (the caller's turn), another prompt. The probe's caller window held no echo in the
    // pause and at the next prompt's start, while the reference at short lags held the new words: its bound came out
    // 0, the line was taken for one without echo, and ~0.5 s of the second prompt's echo passed whole (a false
    // barge-in on 16.5 of 100 such prompts with the level guard alone).
    const first = level(clips[4]!.pcm, -18);
    const second = level(clips[3]!.pcm, -18);
    const gap = silence(1000);
    const { line, residual } = run(
      { delayMs: 300, erlDb: 30, mulaw: true, noiseDbfs: -60, seed: 4 },
      {},
      undefined,
      concat(first, gap, second),
    );
    const from = first.length + gap.length;
    // (frames above -50 dBFS: Silero hears speech at any level; the line's noise is at -60)
    let echoFrames = 0;
    const passed: number[] = [];
    for (let at = from; at + FRAME <= line.length; at += FRAME) {
      if (db(energy(line, at, at + FRAME) / 32768 ** 2) > -50) echoFrames++;
      if (db(energy(residual, at, at + FRAME) / 32768 ** 2) > -50) passed.push((at - from) / FRAME);
    }
    expect(echoFrames).toBeGreaterThan(40);
    // (on main before: frames 38-42, 57-... of the second prompt, 25 in all)
    expect(passed).toEqual([]);
  });

  it('after a pause, a line found without echo stays so: a caller who talks over the next prompt is heard', () => {
    // The bound measured while the bot talked stands in the pause and until the next words' echo can be back, and the
    // probe's window counts only blocks with the echo back, so the pause does not age its bounds out: the first bounds
    // after it hold the caller who answered, and alone they took the line for one with some echo. Of the caller's 51
    // loud blocks at 0.3 s, 32 passed with the bound taken anew in the pause, 45 with the probe's bounds aged out.
    const first = level(clips[4]!.pcm, -18);
    const gap = silence(1000);
    const prompt = concat(first, gap, level(clips[3]!.pcm, -18));
    const own = clips[6]!.pcm;
    for (const intoMs of [300, 900]) {
      const atMs = ((first.length + gap.length) * 1000) / RATE + intoMs;
      const { residual } = run(
        { delayMs: 20, erlDb: 60, mulaw: true, noiseDbfs: -60, seed: 5 },
        {},
        { pcm: own, atMs },
        prompt,
      );
      // the caller's first second
      const { speech, passed } = callerBlocksPassed(own, residual, Math.round((atMs * RATE) / 1000), RATE);
      expect(speech, `${intoMs} ms`).toBeGreaterThan(20);
      expect(passed / speech, `${intoMs} ms`).toBeGreaterThan(0.9);
    }
  });

  it('a caller who starts as the bot’s first words reach 420 ms, on a line without echo, is heard at once', () => {
    // Their envelope lines up with the bot's at that lag, so the envelopes measure a delay there (420 ms, -3 dB: the
    // caller held back for 0.5 s); the probe's regression at that delay, sample by sample, bounds it far lower. Before
    // that bound, none of these callers' loud blocks in their first 0.5 s passed.
    for (const [bot, caller] of [
      [1, 6],
      [4, 6],
      [1, 8],
    ] as const) {
      const prompt = level(clips[bot]!.pcm, -18);
      const own = clips[caller]!.pcm;
      const onsetMs = energyBoundaries(own).startMs;
      const atMs = energyBoundaries(prompt).startMs + 420 - onsetMs;
      const { residual } = run(
        { delayMs: 20, erlDb: 60, mulaw: true, noiseDbfs: -60, seed: 5 },
        {},
        { pcm: own, atMs },
        prompt,
      );
      const onset = Math.round((onsetMs * RATE) / 1000);
      const { speech, passed } = callerBlocksPassed(
        own.subarray(onset),
        residual,
        Math.round(((atMs + onsetMs) * RATE) / 1000),
        RATE / 2,
      );
      expect(speech).toBeGreaterThan(25);
      expect({ bot, caller, passed: passed / speech > 0.8 }).toEqual({ bot, caller, passed: true });
    }
  });

  it('a delay taken where the echo is not (from a prompt’s room-noise lead) gives way when the echo comes back elsewhere', () => {
    // 8 kHz, as on the phone: the envelopes of the lead's faint echo matched at 220 ms, and the probe bounded the gain
    // there at -29 dB; the loud echo came back at 300 ms and 530 ms of it passed whole (a false barge-in). The probe
    // hears it at 300 ms and the delay goes: at most the 50 ms until its next look may pass, under the fast cue's 100 ms.
    const rate = 8000;
    const frame = 160;
    const prompt = resample(level(clips[5]!.pcm, -18), RATE, rate);
    const echo = new EchoPath({ delayMs: 300, erlDb: 6, mulaw: true, noiseDbfs: -60, seed: 29, sampleRate: rate });
    const guard = new EchoGuard(echoConfig.parse({}), rate, rate);
    let run = 0;
    let longest = 0;
    let loud = 0;
    for (let at = 0; at + frame <= prompt.length; at += frame) {
      const heard = echo.take(frame);
      const played = prompt.slice(at, at + frame);
      echo.pushBot(played);
      guard.reference(played);
      const out = guard.process(heard);
      for (let b = 0; b < frame; b += 80) {
        const passed = energy(out, b, b + 80) >= (32768 * 10 ** (-45 / 20)) ** 2;
        run = passed ? run + 1 : 0;
        if (passed) loud++;
        longest = Math.max(longest, run);
      }
    }
    // the echo's delay, not the lead's 220 ms
    expect(Math.abs(guard.stats.delayMs! - 300)).toBeLessThanOrEqual(20);
    // 10 ms blocks of echo at speech level passed: the longest run, and all of them
    expect(longest).toBeLessThan(10);
    expect(loud).toBeLessThan(10);
  });

  it('a caller’s room noise that starts while the bot talks, on a line without echo, is not measured as an echo', () => {
    // The caller's line opens with their room noise, 20 dB above the prompt's own lead: the two starts line up at the
    // lag between them, and the envelopes measured an echo there at 0 dB return loss, which then masked the caller
    // behind the bot's first words. An echo is never louder than the audio it comes from.
    const rate = 8000;
    const frame = 160;
    for (const [bot, caller] of [
      [2, 6],
      [2, 7],
      [4, 7],
    ] as const) {
      const prompt = resample(level(clips[bot]!.pcm, -18), RATE, rate);
      const own = resample(clips[caller]!.pcm, RATE, rate);
      const from = (300 * rate) / 1000;
      const line = new EchoPath({ delayMs: 20, erlDb: 60, mulaw: true, noiseDbfs: -60, seed: 99, sampleRate: rate });
      const guard = new EchoGuard(echoConfig.parse({}), rate, rate);
      let loudest: number | null = null;
      for (let at = 0; at + frame <= Math.min(prompt.length, 1.5 * rate); at += frame) {
        const heard = line.take(frame, own.slice(Math.max(0, at - from), Math.max(0, at + frame - from)));
        const played = prompt.slice(at, at + frame);
        line.pushBot(played);
        guard.reference(played);
        guard.process(heard);
        const { erlDb } = guard.stats;
        if (erlDb !== null) loudest = Math.min(loudest ?? Infinity, erlDb);
      }
      // no echo measured, or one far down (the caller's speech may line up with the bot's now and then)
      expect({ bot, caller, loudEcho: loudest !== null && loudest < 6 }).toEqual({ bot, caller, loudEcho: false });
    }
  });

  it('lets a caller who talks over the echo through', () => {
    const atMs = 1500;
    const { line, residual } = run({ delayMs: 150, erlDb: 6, seed: 2 }, {}, { pcm: CALLER, atMs });
    const from = (atMs * RATE) / 1000;
    const callerOnly = new Int16Array(line.length);
    callerOnly.set(CALLER.subarray(0, line.length - from), from);
    // the caller's speech keeps most of its energy (the echo under it goes too)
    expect(db(energy(residual, from) / energy(callerOnly, from))).toBeGreaterThan(-4);
  });

  it('a caller who talks from the bot’s first words on a quiet line (300 ms, 30 dB) is not taken for its echo', () => {
    // Masked caller blocks used to count in the no-delay bound: it rose to the caller's level and masked them all
    // (about 40 % of their speech got through). The bot at -18 dBFS, the caller at their natural level (~6 dB down).
    for (const [bot, caller] of [
      [0, 6],
      [4, 9],
    ] as const) {
      const prompt = level(clips[bot]!.pcm, -18);
      const own = clips[caller]!.pcm;
      const { residual } = run(
        { delayMs: 300, erlDb: 30, mulaw: true, noiseDbfs: -60, seed: 3 },
        {},
        { pcm: own, atMs: 0 },
        prompt,
      );
      const { speech, passed } = callerBlocksPassed(own, residual);
      expect(speech).toBeGreaterThan(100);
      expect({ bot, caller, passed: passed / speech > 0.6 }).toEqual({ bot, caller, passed: true });
    }
  });

  it('the probe’s bound counts as a measured line: with a caller from the first word, settled within 1.3 s', () => {
    // what the guard passes above a bound the caller cannot have raised is the caller: the fast onset cue may act on
    // it (before, it waited for a delay, which the caller's speech delays: 2 s here)
    const prompt = level(clips[0]!.pcm, -18);
    const own = clips[6]!.pcm;
    const echo = new EchoPath({ delayMs: 300, erlDb: 30, mulaw: true, noiseDbfs: -60, seed: 3, sampleRate: RATE });
    const guard = new EchoGuard(echoConfig.parse({}), RATE, RATE);
    let settledAt: number | null = null;
    for (let at = 0; at + FRAME <= prompt.length && settledAt === null; at += FRAME) {
      const caller = new Int16Array(FRAME);
      caller.set(own.subarray(at, at + FRAME));
      const heard = echo.take(FRAME, caller);
      const played = prompt.slice(at, at + FRAME);
      echo.pushBot(played);
      guard.reference(played);
      guard.process(heard);
      if (guard.measured) settledAt = (at * 1000) / RATE;
    }
    expect(settledAt).not.toBeNull();
    expect(settledAt!).toBeLessThanOrEqual(1300);
  });

  it('enabled: false hands the line to the VAD untouched', () => {
    const { line, residual } = run({ delayMs: 150, erlDb: 6 }, { enabled: false });
    expect(residual).toEqual(line);
  });

  it('maxDelayMs: an echo later than it is not recognised', () => {
    const settled = RATE;
    const within = run({ delayMs: 300, erlDb: 6 }, { maxDelayMs: 400 });
    const beyond = run({ delayMs: 300, erlDb: 6 }, { maxDelayMs: 200 });
    expect(db(energy(within.line, settled) / energy(within.residual, settled))).toBeGreaterThan(20);
    expect(beyond.guard.stats.delayMs).toBeNull();
    expect(db(energy(beyond.line, settled) / energy(beyond.residual, settled))).toBeLessThan(10);
  });

  it('minErlDb: before the line is measured, an echo louder than assumed gets through', () => {
    // from the first word on: the echo's first 250 ms come before any measurement
    const onset = (energyBoundaries(BOT).startMs * RATE) / 1000;
    const bot = BOT.subarray(onset);
    const [from, to] = [(100 * RATE) / 1000, (350 * RATE) / 1000];
    const assumed6 = run({ delayMs: 100, erlDb: 6 }, { minErlDb: 6 }, undefined, bot);
    const assumed20 = run({ delayMs: 100, erlDb: 6 }, { minErlDb: 20 }, undefined, bot);
    const leak = (r: Run) => db(energy(r.line, from, to) / energy(r.residual, from, to));
    expect(leak(assumed6)).toBeGreaterThan(15);
    expect(leak(assumed20)).toBeLessThan(6);
  });

  it('marginDb: how far above the expected echo the caller must be', () => {
    const atMs = 1500;
    const quiet = CALLER.map((s) => Math.round(s * 0.35)); // the caller ~9 dB down
    const from = (atMs * RATE) / 1000;
    const kept = (marginDb: number) => {
      const { residual, line } = run({ delayMs: 150, erlDb: 6, seed: 4 }, { marginDb }, { pcm: quiet, atMs });
      return db(energy(residual, from) / energy(line, from));
    };
    expect(kept(0) - kept(20)).toBeGreaterThan(6);
  });
});
