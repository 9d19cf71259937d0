import { describe, expect, it } from 'vitest';
import { ForkPlayout } from '../src/fork-playout.js';

/** 20 ms frames at 8 kHz, sent every 20 ms from `from` (ms); the play times that come back, by frame */
function stream(fork: ForkPlayout, frames: number, from: number, plays: Map<number, number>, first = 0): void {
  for (let i = 0; i < frames; i++) {
    const frame = new Int16Array(160).fill(first + i);
    for (const p of fork.sent(frame, from + i * 20)) plays.set(p.frame[0]!, p.at);
  }
}

describe('ForkPlayout: when mod_audio_fork plays what the leg sends', () => {
  it('the first block plays once complete, and the playout keeps that lead: a constant delay', () => {
    const fork = new ForkPlayout(8000, 1280, 640);
    const plays = new Map<number, number>();
    stream(fork, 7, 0, plays);
    expect(plays.size).toBe(0); // 1120 samples: the pre-buffer waits
    stream(fork, 33, 140, plays, 7);
    // frame i went out at i × 20 ms; the block was complete with frame 7 (at 140 ms): every frame plays 140 ms late
    for (const [i, at] of plays) expect(at - i * 20).toBe(140);
    expect(plays.size).toBe(40);
  });

  it('after killAudio (pre-buffer flushed) the next prompt starts on a small block: a shorter delay, not the old one', () => {
    const fork = new ForkPlayout(8000, 1280, 640);
    const plays = new Map<number, number>();
    stream(fork, 20, 0, plays);
    fork.killed(400, true);
    stream(fork, 8, 1000, plays, 100);
    // 640 samples: complete with the 4th frame (at 1060), which plays at once
    expect(plays.get(100)).toBe(1060);
    expect(plays.get(107)).toBe(1060 + 7 * 20);
  });

  it('held audio not flushed plays in front of the next prompt', () => {
    const fork = new ForkPlayout(8000, 1280, 640);
    const plays = new Map<number, number>();
    stream(fork, 10, 0, plays); // 8 frames played, 2 held (320 samples)
    expect(plays.size).toBe(8);
    fork.killed(200, false);
    stream(fork, 2, 1000, plays, 100); // 320 + 320: a block
    expect(plays.get(8)).toBe(1020);
    expect(plays.get(100)).toBe(1060);
  });
});
