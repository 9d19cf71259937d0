import type { PacerTimers } from '../../src/media/pacer.js';

/** A manual clock: timers fire when advanced past, each `lateness(n)` ms after its due time. */
export class FakeClock implements PacerTimers {
  t = 1000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;
  fired = 0;
  constructor(private readonly lateness: (n: number) => number = () => 0) {}
  now = () => this.t;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  get pending(): number {
    return this.timers.length;
  }
  /** Time passes with no timer firing (an event-loop stall). */
  stall(ms: number): void {
    this.t += ms;
  }
  advanceTo(until: number): void {
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at + this.lateness(this.fired++));
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }
}
