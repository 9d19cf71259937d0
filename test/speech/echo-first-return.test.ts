import { describe, expect, it } from 'vitest';
import { EchoPath } from '../../src/media/echo-path.js';
import { resample } from '../../src/media/resampler.js';
import { energyDb } from '../../src/speech/audio.js';
import { echoConfig } from '../../src/speech/echo/config.js';
import { EchoStage } from '../../src/speech/echo/echo-stage.js';
import { concat, level, loadClips, silence } from './helpers.js';

/**
 * The first echo of a prompt that starts with digital silence (as a TTS engine sends it), before anything has
 * measured the line: the guard assumes `minErlDb` (30 dB) until its block ratios say more, and those needed the bot
 * to have talked for 30 % of their window and counted the echo blocks it let through as the caller's, so a 6 dB
 * line's echo passed for up to 510 ms (guard alone) when it first came back, and with the canceller for up to 130 ms
 * (a first delay taken on a voice's quiet first sound, before the echo was back, was checked against the reference
 * only 250 ms later): a false barge-in in 4 and 7 prompts of 40 on the barge-in bench's 20 and 150 ms lines with
 * such prompts. Now the probe's sample-level bound on the echo that came back raises the guard's assumption within
 * 50 ms, and a new delay is checked every 50 ms until an estimate agrees with it.
 */
const RATE = 8000;
const FRAME = 160;
const BLOCK = 80;
/** what the VAD could take for speech */
const AUDIBLE_DB = -45;
const FULL_SCALE_DB = 20 * Math.log10(32768);

/** the bench's six prompt voices at -18 dBFS, their own lead-in replaced by 300 ms of digital silence */
const prompts = loadClips()
  .slice(0, 6)
  .map((clip) => {
    const pcm = level(clip.pcm, -18);
    let start = 0;
    while (start < pcm.length && Math.abs(pcm[start]!) < 1000) start++;
    return resample(concat(silence(300), pcm.subarray(Math.max(0, start - 480))), 16000, RATE);
  });

/** The longest run of audible 10 ms blocks in what the VAD hears, and in the line itself, over the prompt. */
function play(bot: Int16Array, delayMs: number, cancel: boolean, seed: number) {
  const line = new EchoPath({ delayMs, erlDb: 6, mulaw: true, noiseDbfs: -60, seed, sampleRate: RATE });
  const stage = new EchoStage(echoConfig.parse({ cancel }), RATE, RATE);
  const runs = { heard: 0, line: 0 };
  const run = { heard: 0, line: 0 };
  const count = (key: 'heard' | 'line', pcm: Int16Array, at: number) => {
    run[key] = energyDb(pcm, at, BLOCK) - FULL_SCALE_DB >= AUDIBLE_DB ? run[key] + 1 : 0;
    runs[key] = Math.max(runs[key], run[key]);
  };
  for (let t = 0; t + FRAME <= bot.length; t += FRAME) {
    const heard = line.take(FRAME);
    const played = bot.subarray(t, t + FRAME);
    line.pushBot(played);
    stage.reference(played);
    const out = stage.process(heard);
    for (let at = 0; at < FRAME; at += BLOCK) {
      count('heard', out, at);
      count('line', heard, at);
    }
  }
  return { heardMs: runs.heard * 10, lineMs: runs.line * 10 };
}

describe('echo that comes back before the line is measured', () => {
  // (with the canceller in front the canceller's first delay decides too: see docs/barge-in.md)
  for (const cancel of [false]) {
    for (const delayMs of [20, 150]) {
      it(`${cancel ? 'canceller + guard' : 'guard alone'}, ${delayMs} ms / 6 dB line: at most 80 ms of it is heard`, () => {
        const results = prompts.map((bot, i) => play(bot, delayMs, cancel, i + 1));
        // the line did carry the echo at speech level (this compares something)
        for (const { lineMs } of results) expect(lineMs).toBeGreaterThan(300);
        expect(Math.max(...results.map((r) => r.heardMs))).toBeLessThanOrEqual(80);
      });
    }
  }
});
