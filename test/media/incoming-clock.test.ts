import { describe, expect, it } from 'vitest';
import { IncomingClock, SampleCountClock } from '../../src/media/incoming-clock.js';

describe('IncomingClock: caller frames stamped by their media time, not their arrival', () => {
  it('frames that arrive late (a stalled loop, a burst) keep their media time', () => {
    let now = 1000;
    const clock = new IncomingClock(() => now);
    clock.arrived(0);
    now = 1300; // 300 ms stall: frames 20..280 ms arrive at once
    for (let ms = 20; ms < 300; ms += 20) clock.arrived(ms);
    expect(clock.at(0)).toBe(1000);
    expect(clock.at(140)).toBe(1140);
  });

  it('a first frame that came late does not push the rest back: the origin is the earliest arrival, then fixed', () => {
    let now = 1050; // the first frame was held up 50 ms
    const clock = new IncomingClock(() => now);
    clock.arrived(0);
    now = 1060;
    clock.arrived(40); // came 30 ms sooner than the first implied
    expect(clock.at(0)).toBe(1020);
    now = 4000; // after the first 2 s the origin no longer moves
    clock.arrived(3000);
    expect(clock.at(0)).toBe(1020);
  });
});

describe('SampleCountClock: a WebSocket stream has no timestamps, its sample count is its clock', () => {
  it('frames cut from messages of any size are stamped by their place in the stream', () => {
    let now = 0;
    const clock = new SampleCountClock(8000, () => now);
    clock.received(480); // 60 ms in one message
    expect([clock.next(160), clock.next(160), clock.next(160)]).toEqual([0, 20, 40]);
    now = 500; // the next message comes late
    clock.received(160);
    expect(clock.next(160)).toBe(60);
    clock.reset(); // a new socket: media time starts over from its own first arrival
    clock.received(160);
    expect(clock.next(160)).toBe(500);
  });
});
