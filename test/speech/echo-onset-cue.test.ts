import { describe, expect, it } from 'vitest';
import { OnsetCue } from '../../src/speech/echo/onset-cue.js';

const RATE = 16_000;
const BLOCK = 160;

/** 10 ms blocks of a 300 Hz tone at `dbfs` (RMS) */
function tone(ms: number, dbfs: number): Int16Array {
  const amplitude = 32768 * 10 ** (dbfs / 20) * Math.SQRT2;
  return Int16Array.from({ length: (ms * RATE) / 1000 }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * 300 * i) / RATE)),
  );
}

/** Feeds `pcm` block by block; the block indexes at which a cue fired. */
function cues(cue: OnsetCue, pcm: Int16Array, onBlock: (i: number) => void = () => {}): number[] {
  const fired: number[] = [];
  for (let i = 0; i * BLOCK < pcm.length; i++) {
    onBlock(i);
    if (cue.push(pcm.subarray(i * BLOCK, (i + 1) * BLOCK))) fired.push(i);
  }
  return fired;
}

describe('OnsetCue', () => {
  it('fires after minMs of loud audio above the floor, once per run', () => {
    const pcm = new Int16Array((1000 * RATE) / 1000);
    pcm.set(tone(400, -20), (300 * RATE) / 1000);
    const cue = new OnsetCue(RATE, 150);
    // the floor is silence (blocks at -inf do not count), the run starts at block 30: fires on its 15th block
    expect(cues(cue, pcm)).toEqual([44]);
  });

  it('a first syllable shorter than minMs, a pause and the next one add up: fires within the next one', () => {
    // 100 ms loud, 80 ms quiet, then loud again: a contiguous run of 150 ms would come only at block 30 + 18 + 15
    const pcm = new Int16Array((800 * RATE) / 1000);
    pcm.set(tone(100, -20), (300 * RATE) / 1000);
    pcm.set(tone(300, -20), (480 * RATE) / 1000);
    expect(cues(new OnsetCue(RATE, 150), pcm)).toEqual([52]);
  });

  it('a loud run that reaches minMs before the echo handling settled fires the moment it settles, not never', () => {
    // the caller talks on from block 30; the echo handling settles at block 60 (the line measured): before, the cue
    // was spent at block 44 unheard (the call ignores cues before it settles) and the next one needed 0.5 s of quiet
    const pcm = new Int16Array((1500 * RATE) / 1000);
    pcm.set(tone(1000, -20), (300 * RATE) / 1000);
    let settled = false;
    const cue = new OnsetCue(RATE, 150, () => settled);
    expect(cues(cue, pcm, (i) => (settled = i >= 60))).toEqual([60]);
  });
});
