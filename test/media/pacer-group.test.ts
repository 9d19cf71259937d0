import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/media/pacer.js';
import type { PacerFrameInfo } from '../../src/media/pacer.js';
import { PacerGroup } from '../../src/media/pacer-group.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from './helpers.js';

function member(group: PacerGroup, frames: PacerFrameInfo[][], opts: { silenceFill?: boolean } = {}) {
  const mine: PacerFrameInfo[] = [];
  frames.push(mine);
  return new Pacer({
    frameSamples: 160,
    silenceFill: opts.silenceFill ?? true,
    group,
    onFrame: (_frame, info) => mine.push(info),
  });
}

describe('PacerGroup', () => {
  it('drives many pacers from one timer on an absolute clock: late wake-ups never add up into drift', () => {
    const clock = new FakeClock((n) => (n * 7) % 3); // each wake-up 0–2 ms late
    const group = new PacerGroup({ now: clock.now, timers: clock, slotsPerFrame: 10 });
    const frames: PacerFrameInfo[][] = [];
    const pacers = Array.from({ length: 50 }, () => member(group, frames));
    const start = clock.t;
    for (const p of pacers) p.start();
    expect(clock.pending).toBe(1); // one timer for all 50
    clock.advanceTo(start + 2000);

    // Each stream's frame n is due at its own frame-0 time + n × 20 ms, sent within the wake-up lateness.
    for (const mine of frames) {
      expect(mine.length).toBeGreaterThanOrEqual(99);
      const first = mine[0]!.scheduledAt;
      expect(first - start).toBeGreaterThanOrEqual(0);
      expect(first - start).toBeLessThan(20);
      mine.forEach((info, n) => {
        expect(info.index).toBe(n);
        expect(info.scheduledAt).toBeCloseTo(first + n * 20, 9);
        expect(info.late).toBeGreaterThanOrEqual(-1);
        expect(info.late).toBeLessThanOrEqual(3);
      });
    }
    // About slotsPerFrame wake-ups per 20 ms in all, not one per pacer per frame.
    expect(group.wakeUpCount).toBeLessThanOrEqual(((2000 / 20) * 10 * 11) / 10);
    for (const p of pacers) p.stop();
  });

  it('spreads members evenly over the sub-ticks so no wake-up sends every stream at once', () => {
    const clock = new FakeClock();
    const group = new PacerGroup({ now: clock.now, timers: clock, slotsPerFrame: 4 });
    const frames: PacerFrameInfo[][] = [];
    const pacers = Array.from({ length: 40 }, () => member(group, frames));
    for (const p of pacers) p.start();
    clock.advanceTo(clock.t + 100);
    const phases = new Map<number, number>();
    for (const mine of frames) {
      const phase = Math.round(mine[0]!.scheduledAt - 1000) % 20;
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
    }
    expect([...phases.values()]).toEqual([10, 10, 10, 10]);
    for (const p of pacers) p.stop();
  });

  it('releases its timer with the last member and restarts cleanly', () => {
    const clock = new FakeClock();
    const group = new PacerGroup({ now: clock.now, timers: clock });
    const frames: PacerFrameInfo[][] = [];
    const a = member(group, frames);
    const b = member(group, frames);
    a.start();
    b.start();
    clock.advanceTo(clock.t + 45);
    a.stop();
    expect(group.size).toBe(1);
    expect(clock.pending).toBe(1);
    b.stop();
    expect(group.size).toBe(0);
    expect(clock.pending).toBe(0);
    const sentByA = frames[0]!.length;
    clock.advanceTo(clock.t + 100);
    expect(frames[0]!.length).toBe(sentByA); // stopped means stopped

    a.start(); // a fresh clock: frame 0 again, due within one frame period
    const restartAt = clock.t;
    clock.advanceTo(clock.t + 60);
    const again = frames[0]!.slice(sentByA);
    expect(again[0]!.index).toBe(0);
    expect(again[0]!.scheduledAt - restartAt).toBeLessThan(20);
    expect(again.length).toBeGreaterThanOrEqual(3);
    a.stop();
    expect(clock.pending).toBe(0);
  });

  it('lets a member stop itself or another member from inside onFrame without skipping anyone', () => {
    const clock = new FakeClock();
    const group = new PacerGroup({ now: clock.now, timers: clock, slotsPerFrame: 1 });
    const counts = [0, 0, 0, 0];
    const pacers: Pacer[] = [];
    for (let i = 0; i < 4; i++) {
      pacers.push(
        new Pacer({
          frameSamples: 160,
          silenceFill: true,
          group,
          onFrame: () => {
            counts[i]!++;
            // Member 3 (ticked first: the list is walked backwards) stops member 0 after two frames.
            if (i === 3 && counts[3] === 2) pacers[0]!.stop();
            if (i === 2 && counts[2] === 3) pacers[2]!.stop();
          },
        }),
      );
    }
    for (const p of pacers) p.start();
    clock.advanceTo(clock.t + 20 * 9 + 1); // 10 frame slots
    expect(counts).toEqual([1, 10, 3, 10]);
    for (const p of pacers) p.stop();
  });

  it('after a stall, each member bursts or skips by its own catch-up rule, once per stall', () => {
    const clock = new FakeClock();
    const group = new PacerGroup({ now: clock.now, timers: clock });
    const frames: PacerFrameInfo[][] = [];
    const pacer = member(group, frames);
    pacer.start();
    clock.advanceTo(clock.t + 30); // frames 0 and 1
    clock.stall(500);
    clock.advanceTo(clock.t + 1);
    expect(pacer.stats.skipped).toBeGreaterThan(20);
    const indexes = frames[0]!.map((f) => f.index);
    expect(new Set(indexes).size).toBe(indexes.length); // no frame sent twice
    pacer.stop();
  });

  it('rejects a pacer whose frame period differs from the group', () => {
    const group = new PacerGroup({ frameMs: 20 });
    expect(() => new Pacer({ frameMs: 10, frameSamples: 80, group, onFrame: () => {} })).toThrow(/frameMs/);
    expect(() => new PacerGroup({ slotsPerFrame: 0 })).toThrow(RangeError);
  });

  it('runs on real timers: frames leave close to their schedule and nothing is left armed', async () => {
    const group = new PacerGroup();
    const frames: PacerFrameInfo[][] = [];
    const pacers = Array.from({ length: 5 }, () => member(group, frames));
    for (const p of pacers) p.start();
    await waitFor(() => frames.every((f) => f.length >= 5), 3000, 'five frames per pacer');
    for (const mine of frames) {
      mine.forEach((info, n) => expect(info.index).toBe(n));
    }
    for (const p of pacers) p.stop();
    expect(group.size).toBe(0);
  });
});
