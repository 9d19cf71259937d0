import type { Clock } from '../../src/core/clock.js';

/**
 * A manual clock: timers fire when advanced past, each `lateness(n)` ms after its due time. Behaviour that takes a
 * `Clock` (outbox retries, grace periods, reconnect backoff, pacers) runs on it in tests: no sleeps, no waiting.
 */
export class FakeClock implements Clock {
  t: number;
  fired = 0;
  #timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #nextId = 1;
  readonly #lateness: (n: number) => number;

  constructor(lateness: (n: number) => number = () => 0, start = 1000) {
    this.#lateness = lateness;
    this.t = start;
  }

  now = (): number => this.t;

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({ at: this.t + ms, fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((x) => x.id !== handle);
  }

  /** timers armed and not yet fired */
  get pending(): number {
    return this.#timers.length;
  }

  /** Time passes with no timer firing (an event-loop stall). */
  stall(ms: number): void {
    this.t += ms;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way (in due order). */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(until: number): void {
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (!next || next.at > until) break;
      this.#timers.shift();
      this.t = Math.max(this.t, next.at + this.#lateness(this.fired++));
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }
}
