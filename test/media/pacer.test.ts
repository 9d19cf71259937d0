import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/media/pacer.js';
import type { PacerFrameInfo, PacerOptions } from '../../src/media/pacer.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from './helpers.js';

function setup(opts: Partial<PacerOptions> = {}, lateness?: (n: number) => number) {
  const clock = new FakeClock(lateness);
  const frames: Array<{ frame: Int16Array; info: PacerFrameInfo }> = [];
  const pacer = new Pacer({
    frameSamples: 160,
    onFrame: (frame, info) => frames.push({ frame, info }),
    now: clock.now,
    timers: clock,
    ...opts,
  });
  return { clock, frames, pacer };
}

describe('Pacer', () => {
  it('schedules frame n at start + n × 20 ms: late timers never accumulate into drift', () => {
    const { clock, frames, pacer } = setup({ silenceFill: true }, (n) => (n * 7) % 9); // 0–8 ms late
    pacer.start();
    const start = clock.t;
    clock.advanceTo(start + 2000);
    expect(frames.length).toBeGreaterThanOrEqual(100);
    frames.forEach(({ info }, n) => {
      expect(info.index).toBe(n);
      expect(info.scheduledAt).toBe(start + n * 20);
      expect(info.late).toBeGreaterThanOrEqual(0);
      expect(info.late).toBeLessThan(9); // lateness stays per-timer, never adds up
    });
    pacer.stop();
  });

  it('cuts queued audio into frames, pads the tail, counts played samples and reports drain', async () => {
    const { clock, frames, pacer } = setup();
    let drained = 0;
    pacer.onDrained(() => drained++);
    pacer.enqueue(new Int16Array(400).fill(7));
    const done = pacer.waitDrained(AbortSignal.timeout(5000));
    expect(pacer.queuedSamples).toBe(400);
    pacer.start();
    clock.advanceTo(clock.t + 100);
    await done;
    expect(frames.map((f) => f.frame.filter((s) => s === 7).length)).toEqual([160, 160, 80]);
    expect(frames[2]!.frame.length).toBe(160);
    expect(pacer.playedSamples).toBe(400);
    expect(pacer.queuedSamples).toBe(0);
    expect(drained).toBe(1);
    expect(pacer.stats).toMatchObject({ audioFrames: 3, underruns: 1, silenceFrames: 0 });
    pacer.stop();
  });

  it('flush() stops audio within one frame (barge-in) and returns the samples dropped', () => {
    const { clock, frames, pacer } = setup({ silenceFill: true });
    pacer.enqueue(new Int16Array(8000).fill(1)); // 1 s
    pacer.start();
    const start = clock.t;
    clock.advanceTo(start + 30); // frames 0 and 1
    expect(pacer.flush()).toBe(8000 - 320);
    clock.advanceTo(start + 100);
    expect(frames.map((f) => f.info.silence)).toEqual([false, false, true, true, true, true]);
    expect(pacer.playedSamples).toBe(320);
    pacer.stop();
  });

  it('emits nothing when idle without silence fill, then resumes on the same grid', () => {
    const { clock, frames, pacer } = setup({ silenceFill: false });
    pacer.start();
    const start = clock.t;
    clock.advanceTo(start + 95);
    expect(frames).toHaveLength(0);
    pacer.enqueue(new Int16Array(160));
    clock.advanceTo(start + 100);
    expect(frames.map((f) => f.info.scheduledAt - start)).toEqual([100]);
    pacer.stop();
  });

  it('skips missed slots after a long stall instead of bursting them', () => {
    const { clock, frames, pacer } = setup({ silenceFill: true, maxCatchUpFrames: 3 }, (n) => (n === 2 ? 200 : 0));
    pacer.start();
    const start = clock.t;
    clock.advanceTo(start + 300);
    expect(pacer.stats.skipped).toBeGreaterThan(0);
    const indexes = frames.map((f) => f.info.index);
    expect(new Set(indexes).size).toBe(indexes.length);
    expect(frames.every((f) => f.info.scheduledAt === start + f.info.index * 20)).toBe(true);
    pacer.stop();
  });

  it('stop() releases its timer and rejects pending drain waits; an abort rejects a wait', async () => {
    const { clock, pacer } = setup();
    pacer.enqueue(new Int16Array(1600));
    pacer.start();
    const ac = new AbortController();
    const aborted = pacer.waitDrained(ac.signal);
    ac.abort(new Error('hangup'));
    await expect(aborted).rejects.toThrow('hangup');
    const pending = pacer.waitDrained();
    pacer.stop();
    await expect(pending).rejects.toThrow(/stopped/);
    expect(clock.pending).toBe(0);
  });

  it('reports send-time error percentiles', () => {
    const { clock, pacer } = setup({ silenceFill: true }, (n) => (n % 10 === 9 ? 4 : 0));
    pacer.start();
    clock.advanceTo(clock.t + 1990);
    const stats = pacer.stats;
    expect(stats.frames).toBe(100);
    expect(stats.lateP50).toBe(0);
    expect(stats.lateMax).toBe(4);
    expect(stats.lateP99).toBe(4);
    pacer.stop();
  });

  it('keeps order through ring-buffer growth and wrap-around, with or without a reused frame buffer', () => {
    for (const reuseFrameBuffer of [false, true]) {
      const seen: number[] = [];
      const clock = new FakeClock();
      const pacer = new Pacer({
        frameSamples: 160,
        reuseFrameBuffer,
        now: clock.now,
        timers: clock,
        onFrame: (frame) => seen.push(...frame),
      });
      let next = 0;
      const push = (n: number) => pacer.enqueue(Int16Array.from({ length: n }, () => next++ % 30000));
      pacer.start();
      push(100);
      push(5000); // grows the ring
      clock.advanceTo(clock.t + 500);
      push(2000);
      push(777); // written across the ring's end
      clock.advanceTo(clock.t + 2000);
      expect(seen.slice(0, next)).toEqual(Array.from({ length: next }, (_, i) => i % 30000));
      expect(pacer.playedSamples).toBe(next);
      pacer.stop();
    }
  });

  it('hands out a fresh array and info per frame unless asked to reuse them', () => {
    for (const reuseFrameBuffer of [false, true]) {
      const kept: Array<{ frame: Int16Array; info: PacerFrameInfo; index: number; first: number }> = [];
      const clock = new FakeClock();
      const pacer = new Pacer({
        frameSamples: 160,
        reuseFrameBuffer,
        now: clock.now,
        timers: clock,
        // what the callback reads while it runs is always this frame's
        onFrame: (frame, info) => kept.push({ frame, info, index: info.index, first: frame[0]! }),
      });
      pacer.enqueue(Int16Array.from({ length: 320 }, (_, i) => (i < 160 ? 3 : 4)));
      pacer.start();
      clock.advanceTo(clock.t + 30);
      expect(kept.map((k) => [k.index, k.first])).toEqual([
        [0, 3],
        [1, 4],
      ]);
      expect(kept[0]!.frame === kept[1]!.frame).toBe(reuseFrameBuffer);
      expect(kept[0]!.info === kept[1]!.info).toBe(reuseFrameBuffer);
      pacer.stop();
    }
  });

  it('keeps going when onFrame throws', () => {
    const errors: unknown[] = [];
    const clock = new FakeClock();
    const pacer = new Pacer({
      frameSamples: 160,
      silenceFill: true,
      now: clock.now,
      timers: clock,
      onFrame: () => {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    pacer.start();
    clock.advanceTo(clock.t + 50);
    expect(errors).toHaveLength(3);
    expect(pacer.stats.callbackErrors).toBe(3);
    pacer.stop();
  });

  it('with real timers, frame n is scheduled at start + n × 20 ms', async () => {
    const infos: PacerFrameInfo[] = [];
    const pacer = new Pacer({ frameSamples: 160, silenceFill: true, onFrame: (_f, info) => infos.push(info) });
    const before = performance.now();
    pacer.start();
    try {
      await waitFor(() => infos.length >= 6, 5000, 'six frames');
    } finally {
      pacer.stop();
    }
    const start = infos[0]!.scheduledAt;
    expect(start).toBeGreaterThanOrEqual(before);
    infos.forEach((info, n) => {
      expect(info.scheduledAt).toBeCloseTo(start + n * 20, 6);
      expect(info.late).toBeGreaterThanOrEqual(-1);
    });
  });
});
