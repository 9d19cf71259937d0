import { describe, expect, it } from 'vitest';
import { EchoPath } from '../../src/media/echo-path.js';
import { resample } from '../../src/media/resampler.js';
import { echoConfig } from '../../src/speech/echo/config.js';
import { EchoStage } from '../../src/speech/echo/echo-stage.js';
import { energyDb } from '../../src/speech/audio.js';
import { energyBoundaries, level, loadClips, silentLead } from './helpers.js';

const RATE = 8000;
const FRAME = 160;
const BLOCK = 80;
const FULL_SCALE_DB = 20 * Math.log10(32768);
const clips = loadClips();
const LOUD = (32768 * 10 ** (-35 / 20)) ** 2;

/** A prompt as TTS sends it: digital silence up to 60 ms before its speech, at -18 dBFS. */
function ttsPrompt(i: number): Int16Array {
  return resample(silentLead(level(clips[i]!.pcm, -18)), 16_000, RATE);
}

/**
 * Echo the VAD hears at the fast cue's level (-35 dBFS) once the stage has settled (with the canceller, from the first
 * frame: what the cue may act on), ms, over the prompt's first 2.5 s.
 */
function loudEchoMs(bot: Int16Array, delayMs: number): number {
  const path = new EchoPath({ delayMs, erlDb: 6, mulaw: true, noiseDbfs: -60, seed: 4, sampleRate: RATE });
  const stage = new EchoStage(echoConfig.parse({}), RATE, RATE);
  let loudMs = 0;
  for (let t = 0; t + FRAME <= Math.min(bot.length, 2.5 * RATE); t += FRAME) {
    const line = path.take(FRAME);
    const played = bot.subarray(t, t + FRAME);
    path.pushBot(played);
    // stamped as a leg stamps them (MemoryLeg: the bot's frame plays a frame after the caller frame it follows)
    stage.reference(played, (t * 1000) / RATE + 20);
    const heard = stage.process(line, (t * 1000) / RATE);
    if (!stage.settled) continue;
    for (let b = 0; b < FRAME; b += BLOCK) {
      let sum = 0;
      for (let i = b; i < b + BLOCK; i++) sum += heard[i]! ** 2;
      if (sum / BLOCK >= LOUD) loudMs += 10;
    }
  }
  return loudMs;
}

describe('EchoCanceller: the line echo gain at a first delay', () => {
  it('is measured over 100 ms of the bot talking before the stage trusts its echo estimate', () => {
    // TTS-like prompts (a silent lead, then loud speech): a gain measured on the first loud block underestimated the
    // echo, and the first echo reached the VAD for 10-50 ms (13 of these 18; 3 false barge-ins per 100 on the
    // bench's 300 ms / 6 dB line with silent leads)
    const found: string[] = [];
    for (let i = 0; i < 6; i++) {
      for (const delayMs of [20, 150, 300]) {
        const ms = loudEchoMs(ttsPrompt(i), delayMs);
        if (ms > 0) found.push(`voice ${i}, ${delayMs} ms: ${ms} ms`);
      }
    }
    expect(found).toEqual([]);
  });
});

describe('EchoStage: settled', () => {
  // the fast cue acts on what the stage passes once it has settled: with the canceller, the residual echo suppressor
  // passes only bins above the echo expected (by the guard's rule bin by bin until the canceller has measured the
  // line), so from the first frame (the test above holds the echo under the cue's level from there); with the guard
  // alone, its whole blocks pass what is louder than the echo assumed, so only once it has measured the line
  it('with the canceller from the first frame; with the guard alone, once the guard has measured the line', () => {
    expect(new EchoStage(echoConfig.parse({}), RATE, RATE).settled).toBe(true);
    expect(new EchoStage(echoConfig.parse({ cancel: false }), RATE, RATE).settled).toBe(false);
  });
});

describe('EchoCanceller: a first delay a pitch period off the echo', () => {
  /** The bench's voice 3 over its 20 ms / 6 dB line, stamped; a caller from 1 s; the delays taken, and the caller heard. */
  function play(callerDb: number) {
    // voice 3 opens on a voiced sound: at its first echo the canceller takes a delay one pitch period short of the
    // line's (4.5 ms on a 20 ms line, at a strength it takes without a second estimate)
    const bot = ttsPrompt(3);
    const voice = level(clips[9]!.pcm, callerDb);
    const onset = Math.round(energyBoundaries(voice).startMs * 16);
    const caller = resample(voice.subarray(Math.max(0, onset - 800)), 16_000, RATE);
    const callerAt = RATE;
    const path = new EchoPath({ delayMs: 20, erlDb: 6, mulaw: true, noiseDbfs: -60, seed: 4, sampleRate: RATE });
    const stage = new EchoStage(echoConfig.parse({}), RATE, RATE);
    const delays: Array<[number, number | null]> = [];
    let audible = 0;
    let heard = 0;
    for (let t = 0; t + FRAME <= Math.min(bot.length, 2.5 * RATE); t += FRAME) {
      const mix = new Int16Array(FRAME);
      if (t >= callerAt) mix.set(caller.subarray(t - callerAt, t - callerAt + FRAME));
      const line = path.take(FRAME, mix);
      const played = bot.subarray(t, t + FRAME);
      path.pushBot(played);
      stage.reference(played, (t * 1000) / RATE + 20);
      const out = stage.process(line, (t * 1000) / RATE);
      const now = stage.stats.cancellerDelayMs;
      if (now !== (delays.at(-1)?.[1] ?? null)) delays.push([(t * 1000) / RATE, now]);
      // the caller's first 0.5 s: their blocks at the fast cue's level, and those that reach the VAD
      if (t < callerAt || t >= callerAt + RATE / 2) continue;
      for (let b = 0; b < FRAME; b += BLOCK) {
        if (energyDb(mix, b, BLOCK) - FULL_SCALE_DB < -35) continue;
        audible++;
        if (energyDb(out, b, BLOCK) - FULL_SCALE_DB >= -35) heard++;
      }
    }
    return { delays, audible, heard };
  }

  it('is left within 200 ms of its gain saying it is misplaced, for the line’s own, for good', () => {
    // (it used to be kept while the filter, whose span reaches the echo, cancelled a little from there: 0.5 s)
    const { delays } = play(-90);
    expect(delays[0]![1]).toBeLessThan(10);
    expect(delays.at(-1)![1]).toBe(20);
    expect(delays.at(-1)![0] - delays[0]![0]).toBeLessThanOrEqual(200);
  });

  it('after the move, a caller at the echo’s level is heard: the residual share is measured afresh there', () => {
    // (the share ring still held the old place's blocks: converged at 0.46, the suppressor held this caller back)
    // (at -24 dBFS, the echo's level: 27 of its 29 loud blocks reach the VAD in its first 0.5 s, against 20 before)
    const { audible, heard } = play(-24);
    expect(audible).toBeGreaterThan(10);
    expect(heard / audible).toBeGreaterThanOrEqual(0.85);
  });
});
