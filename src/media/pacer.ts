import { systemClock, type Timers } from '../core/clock.js';
import { Waiters } from '../core/waiters.js';
import type { PacerGroup, PacerGroupMember } from './pacer-group.js';

export interface PacerFrameInfo {
  /** Slot number since start(): the frame was due at start + index × frameMs. */
  index: number;
  scheduledAt: number;
  /** Emission time minus scheduledAt, ms (down to -1 ms: a frame may leave up to 1 ms early). */
  late: number;
  /** True for a silence-fill frame (nothing was queued). */
  silence: boolean;
}

/**
 * When a frame left, on the pacer's clock (ms): its slot, or later when a stalled event loop sent it late. The
 * stamp of the bot's `played` frames: the peer plays a frame no earlier than it gets it, so its echo comes back
 * from then on, and the echo stage must not place it earlier.
 */
export function sentAt(info: PacerFrameInfo): number {
  return info.scheduledAt + Math.max(0, info.late);
}

export interface PacerOptions {
  frameMs?: number;
  frameSamples: number;
  onFrame: (frame: Int16Array, info: PacerFrameInfo) => void;
  /** Emit silence frames when nothing is queued (default false): peers such as Asterisk expect a steady stream. */
  silenceFill?: boolean;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  timers?: Timers;
  /** After a stall longer than this many frames, skip the missed slots instead of bursting them (default 5). */
  maxCatchUpFrames?: number;
  /** Called when onFrame throws; the pacer keeps running. */
  onError?: (err: unknown) => void;
  /**
   * Hand onFrame one reused buffer and one reused info object instead of fresh ones per frame (default false).
   * Only for callbacks that consume both before returning (e.g. encode and send): at hundreds of streams the
   * per-frame garbage is what sets how often the collector pauses every stream.
   */
  reuseFrameBuffer?: boolean;
  /**
   * Share one timer with other pacers (a media server's many calls): the group wakes a few times per frame
   * period for all its members instead of once per member. `now`/`timers` are then the group's. Frame 0 is due
   * on the group's least loaded sub-tick, within one frame period of start().
   */
  group?: PacerGroup;
}

export interface PacerStats {
  /** Frames emitted (audio + silence). */
  frames: number;
  audioFrames: number;
  silenceFrames: number;
  /** Slots that found less than a frame queued (the rest was padded with silence). */
  underruns: number;
  /** Slots skipped after a stall. */
  skipped: number;
  /** Samples dropped by flush(). */
  flushedSamples: number;
  callbackErrors: number;
  /** Emission time minus schedule over the last 2048 frames, ms (p50/p99/max of the absolute error). */
  lateP50: number;
  lateP99: number;
  lateMax: number;
}

/**
 * A frame counts as due this early (ms). Node timers have 1 ms granularity measured from a cached loop time,
 * so arming for floor(deadline - now) and accepting up to 1 ms early centres the send time on the deadline
 * (|error| ≤ ~1 ms) instead of biasing every frame up to 2 ms late.
 */
const EARLY_TOLERANCE_MS = 1;
const LATE_WINDOW = 2048;

/**
 * Emits fixed-size frames on an absolute clock: frame n is due at start + n × frameMs, and each timer is armed
 * for the next absolute deadline, so timer delays never accumulate into drift.
 */
/** Every pacer in the process, summed (monitoring and benches: a skipped slot is an audible gap on some call). */
const processTotals = { frames: 0, skipped: 0 };

/** Frames sent and slots skipped by all pacers of this process since it started. */
export function pacerProcessTotals(): Readonly<typeof processTotals> {
  return { ...processTotals };
}

export class Pacer implements PacerGroupMember {
  readonly frameMs: number;
  readonly frameSamples: number;
  readonly #onFrame: PacerOptions['onFrame'];
  readonly #silenceFill: boolean;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #maxCatchUp: number;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #group: PacerGroup | null;

  /** Queued audio: a ring buffer that doubles when full, so steady streaming allocates nothing. */
  #ring: Int16Array;
  #readAt = 0;
  #queued = 0;
  readonly #reuseFrame: Int16Array | null;
  readonly #reuseInfo: PacerFrameInfo | null;
  #played = 0;
  #startAt = 0;
  #index = 0;
  #timer: unknown = null;
  #running = false;
  readonly #drainedListeners = new Set<() => void>();
  readonly #waiters = new Waiters();
  readonly #lates = new Float64Array(LATE_WINDOW);
  #lateCount = 0;
  readonly #counts = {
    frames: 0,
    audioFrames: 0,
    silenceFrames: 0,
    underruns: 0,
    skipped: 0,
    flushedSamples: 0,
    callbackErrors: 0,
  };

  constructor(opts: PacerOptions) {
    this.frameMs = opts.frameMs ?? 20;
    this.frameSamples = opts.frameSamples;
    this.#onFrame = opts.onFrame;
    this.#silenceFill = opts.silenceFill ?? false;
    this.#group = opts.group ?? null;
    this.#now = this.#group?.now ?? opts.now ?? (() => performance.now());
    this.#timers = opts.timers ?? systemClock;
    this.#maxCatchUp = opts.maxCatchUpFrames ?? 5;
    this.#onError = opts.onError;
    this.#ring = new Int16Array(this.frameSamples * 16);
    this.#reuseFrame = opts.reuseFrameBuffer ? new Int16Array(this.frameSamples) : null;
    this.#reuseInfo = opts.reuseFrameBuffer ? { index: 0, scheduledAt: 0, late: 0, silence: false } : null;
    if (!(this.frameMs > 0) || !Number.isInteger(this.frameSamples) || this.frameSamples <= 0) {
      throw new RangeError('Pacer needs frameMs > 0 and a positive integer frameSamples');
    }
    if (this.#group && this.#group.frameMs !== this.frameMs) {
      throw new RangeError(`Pacer frameMs ${this.frameMs} differs from its group's ${this.#group.frameMs}`);
    }
  }

  /** Starts the clock: frame 0 is due now (with a group: on its next free sub-tick). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#index = 0;
    if (this.#group) {
      this.#startAt = this.#group.add(this);
      return;
    }
    this.#startAt = this.#now();
    this.#arm();
  }

  /** Stops the clock and releases the timer; pending waitDrained() calls reject. Queued audio stays queued. */
  stop(): void {
    this.#running = false;
    this.#group?.remove(this);
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#waiters.rejectAll(new Error('pacer stopped'));
  }

  /** Queues PCM of any length (copied, so the caller may reuse its buffer); cut into frames as slots come. */
  enqueue(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    if (this.#queued + pcm.length > this.#ring.length) this.#grow(this.#queued + pcm.length);
    const cap = this.#ring.length;
    const writeAt = (this.#readAt + this.#queued) % cap;
    if (writeAt + pcm.length <= cap) {
      this.#ring.set(pcm, writeAt); // the usual case: no view object per call
    } else {
      const first = cap - writeAt;
      this.#ring.set(pcm.subarray(0, first), writeAt);
      this.#ring.set(pcm.subarray(first), 0);
    }
    this.#queued += pcm.length;
  }

  /** Drops all queued audio (barge-in): the next slot plays silence or nothing. Returns the samples dropped. */
  flush(): number {
    const dropped = this.#queued;
    this.#readAt = 0;
    this.#queued = 0;
    this.#counts.flushedSamples += dropped;
    if (dropped > 0) this.#notifyDrained();
    return dropped;
  }

  get queuedSamples(): number {
    return this.#queued;
  }

  /** Audio samples emitted so far (silence fill and padding excluded). */
  get playedSamples(): number {
    return this.#played;
  }

  get isRunning(): boolean {
    return this.#running;
  }

  /** Calls `cb` every time the queue runs empty (last audio frame emitted, or flush). Returns an unsubscribe. */
  onDrained(cb: () => void): () => void {
    this.#drainedListeners.add(cb);
    return () => this.#drainedListeners.delete(cb);
  }

  /** Resolves once nothing is queued; rejects when `signal` aborts or the pacer stops. */
  waitDrained(signal?: AbortSignal): Promise<void> {
    if (this.#queued === 0) return Promise.resolve();
    return this.#waiters.wait(signal);
  }

  /** Counters are plain; the lateness percentiles are computed (one sort) only when read. */
  get stats(): PacerStats {
    const n = Math.min(this.#lateCount, LATE_WINDOW);
    let sorted: Float64Array | null = null;
    const pick = (q: number) => {
      sorted ??= this.#lates.slice(0, n).sort();
      return n ? sorted[Math.min(n - 1, Math.floor(q * n))]! : 0;
    };
    return {
      ...this.#counts,
      get lateP50() {
        return pick(0.5);
      },
      get lateP99() {
        return pick(0.99);
      },
      get lateMax() {
        return pick(1);
      },
    };
  }

  #arm(): void {
    const deadline = this.#startAt + this.#index * this.frameMs;
    this.#timer = this.#timers.setTimeout(this.#tick, Math.max(0, Math.floor(deadline - this.#now())));
  }

  /** Called by this pacer's PacerGroup at each of its sub-ticks: emits what is due, arms nothing. */
  groupTick(): void {
    if (this.#running) this.#emitDue();
  }

  readonly #tick = (): void => {
    this.#timer = null;
    if (!this.#running) return;
    this.#emitDue();
    if (this.#running) this.#arm();
  };

  #emitDue(): void {
    const t = this.#now();
    let due = Math.floor((t + EARLY_TOLERANCE_MS - this.#startAt) / this.frameMs) - this.#index + 1;
    if (due > this.#maxCatchUp) {
      // A stall (GC, overload): bursting every missed frame would only pile up at the peer.
      this.#counts.skipped += due - 1;
      processTotals.skipped += due - 1;
      this.#index += due - 1;
      due = 1;
    }
    for (let k = 0; k < due && this.#running; k++) this.#emitSlot(this.#index++, t);
  }

  #emitSlot(index: number, t: number): void {
    const scheduledAt = this.#startAt + index * this.frameMs;
    let frame: Int16Array;
    let silence = false;
    if (this.#queued > 0) {
      frame = this.#take();
    } else if (this.#silenceFill) {
      frame = this.#reuseFrame ? this.#reuseFrame.fill(0) : new Int16Array(this.frameSamples);
      silence = true;
    } else {
      return;
    }
    const late = t - scheduledAt;
    this.#lates[this.#lateCount++ % LATE_WINDOW] = Math.abs(late);
    this.#counts.frames++;
    processTotals.frames++;
    if (silence) this.#counts.silenceFrames++;
    else this.#counts.audioFrames++;
    let info: PacerFrameInfo;
    if (this.#reuseInfo) {
      info = this.#reuseInfo;
      info.index = index;
      info.scheduledAt = scheduledAt;
      info.late = late;
      info.silence = silence;
    } else {
      info = { index, scheduledAt, late, silence };
    }
    try {
      this.#onFrame(frame, info);
    } catch (err) {
      this.#counts.callbackErrors++;
      this.#onError?.(err);
    }
    if (!silence && this.#queued === 0) this.#notifyDrained();
  }

  /** Takes one frame from the queue, padding a short tail with silence. */
  #take(): Int16Array {
    const size = this.frameSamples;
    const frame = this.#reuseFrame ?? new Int16Array(size);
    const n = Math.min(size, this.#queued);
    const cap = this.#ring.length;
    const ring = this.#ring;
    // element copies, not set(subarray()): a frame is short, and a view object per frame is garbage
    for (let i = 0, at = this.#readAt; i < n; i++, at++) frame[i] = ring[at < cap ? at : at - cap]!;
    if (n < size) {
      frame.fill(0, n);
      this.#counts.underruns++;
    }
    this.#readAt = (this.#readAt + n) % cap;
    this.#queued -= n;
    this.#played += n;
    return frame;
  }

  #grow(needed: number): void {
    let cap = this.#ring.length * 2;
    while (cap < needed) cap *= 2;
    const next = new Int16Array(cap);
    const first = Math.min(this.#queued, this.#ring.length - this.#readAt);
    next.set(this.#ring.subarray(this.#readAt, this.#readAt + first), 0);
    next.set(this.#ring.subarray(0, this.#queued - first), first);
    this.#ring = next;
    this.#readAt = 0;
  }

  #notifyDrained(): void {
    for (const cb of this.#drainedListeners) cb();
    this.#waiters.resolveAll();
  }
}
