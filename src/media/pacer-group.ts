import { systemClock, type Timers } from '../core/clock.js';

/** What a PacerGroup drives: a Pacer (see `Pacer({ group })`). */
export interface PacerGroupMember {
  /** Emits every frame due at time `now()`; called once per frame period (more after a stall). */
  groupTick(): void;
}

export interface PacerGroupOptions {
  /** Frame period, ms (default 20): the members' frameMs must match. */
  frameMs?: number;
  /**
   * Sub-ticks per frame period (default 10: one wake-up every 2 ms). Each member is placed on one sub-tick, the
   * least loaded, so a wake-up sends only its share of the streams: one sub-tick for all (1) would send every
   * stream in one burst and make the last ones late by the whole burst.
   */
  slotsPerFrame?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  timers?: Timers;
}

/**
 * One absolute-clock timer for many pacers: sub-tick k is due at origin + k × (frameMs / slotsPerFrame), and the
 * timer is always armed for the next absolute deadline, so timer delays never add up into drift. With N streams
 * the process wakes slotsPerFrame times per frame period instead of N times, and allocates nothing per frame.
 */
export class PacerGroup {
  readonly frameMs: number;
  readonly slotsPerFrame: number;
  readonly now: () => number;
  readonly #slotMs: number;
  readonly #timers: Timers;
  readonly #slots: PacerGroupMember[][];
  readonly #slotOf = new Map<PacerGroupMember, number>();
  #origin = 0;
  /** Next sub-tick to run (absolute count since origin). */
  #nextTick = 0;
  /** Sub-tick being run, -1 outside a tick: members added now start at a later one. */
  #runningTick = -1;
  #timer: unknown = null;
  #wakeUps = 0;

  constructor(opts: PacerGroupOptions = {}) {
    this.frameMs = opts.frameMs ?? 20;
    this.slotsPerFrame = opts.slotsPerFrame ?? 10;
    if (!(this.frameMs > 0) || !Number.isInteger(this.slotsPerFrame) || this.slotsPerFrame < 1) {
      throw new RangeError('PacerGroup needs frameMs > 0 and a positive integer slotsPerFrame');
    }
    this.#slotMs = this.frameMs / this.slotsPerFrame;
    this.now = opts.now ?? (() => performance.now());
    this.#timers = opts.timers ?? systemClock;
    this.#slots = Array.from({ length: this.slotsPerFrame }, () => []);
  }

  /** Members currently driven. */
  get size(): number {
    return this.#slotOf.size;
  }

  /** Timer wake-ups so far (for tests and benches: about slotsPerFrame per frame period while anyone is in). */
  get wakeUpCount(): number {
    return this.#wakeUps;
  }

  /**
   * Adds a member on the least loaded sub-tick; returns when its frame 0 is due (within one frame period from
   * now). The first member starts the clock; adding twice is a no-op that returns the same schedule.
   */
  add(member: PacerGroupMember): number {
    if (this.#slotOf.size === 0 && this.#timer === null && this.#runningTick < 0) {
      this.#origin = this.now();
      this.#nextTick = 0;
    }
    // Sub-ticks from `first` on have not run yet: frame 0 goes on the first of them with the least load.
    const first = this.#runningTick >= 0 ? this.#runningTick + 1 : this.#nextTick;
    const existing = this.#slotOf.get(member);
    if (existing !== undefined) return this.#firstDue(first, existing);
    let best = first % this.slotsPerFrame;
    for (let k = 1; k < this.slotsPerFrame; k++) {
      const slot = (first + k) % this.slotsPerFrame;
      if (this.#slots[slot]!.length < this.#slots[best]!.length) best = slot;
    }
    this.#slots[best]!.push(member);
    this.#slotOf.set(member, best);
    if (this.#timer === null && this.#runningTick < 0) this.#arm();
    return this.#firstDue(first, best);
  }

  /** Removes a member; the timer stops with the last one (so an idle group holds no timer). */
  remove(member: PacerGroupMember): void {
    const slot = this.#slotOf.get(member);
    if (slot === undefined) return;
    this.#slotOf.delete(member);
    const list = this.#slots[slot]!;
    const i = list.indexOf(member);
    // Swap-remove: the tick walks lists backwards, so a member moved into a visited index is only re-ticked
    // (harmless: nothing is due twice), never skipped.
    list[i] = list[list.length - 1]!;
    list.pop();
    if (this.#slotOf.size === 0 && this.#timer !== null) {
      this.#timers.clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  /** Absolute time of the first occurrence of `slot` at or after sub-tick `first`. */
  #firstDue(first: number, slot: number): number {
    const tick = first + ((slot - (first % this.slotsPerFrame) + this.slotsPerFrame) % this.slotsPerFrame);
    return this.#origin + tick * this.#slotMs;
  }

  #arm(): void {
    const deadline = this.#origin + this.#nextTick * this.#slotMs;
    this.#timer = this.#timers.setTimeout(this.#tick, Math.max(0, Math.floor(deadline - this.now())));
  }

  readonly #tick = (): void => {
    this.#timer = null;
    this.#wakeUps++;
    // Members accept a frame up to 1 ms early (see Pacer), so run the sub-ticks due by then.
    const until = Math.floor((this.now() + 1 - this.#origin) / this.#slotMs);
    // After a long stall, visiting each slot once is enough: every member emits all its due frames itself.
    const from = Math.max(this.#nextTick, until - this.slotsPerFrame + 1);
    for (let k = from; k <= until; k++) {
      this.#runningTick = k;
      const list = this.#slots[k % this.slotsPerFrame]!;
      for (let i = list.length - 1; i >= 0; i--) {
        if (i < list.length) list[i]!.groupTick();
      }
    }
    this.#runningTick = -1;
    this.#nextTick = Math.max(this.#nextTick, until + 1);
    if (this.#slotOf.size > 0) this.#arm();
  };
}

let shared: PacerGroup | undefined;

/** The process's one group for live calls: every leg's pacer joins it, so N calls cost a few wake-ups per frame. */
export function sharedPacerGroup(): PacerGroup {
  shared ??= new PacerGroup();
  return shared;
}
