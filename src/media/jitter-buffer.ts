import { seqDistance } from './rtp.js';

export interface JitterBufferOptions {
  /** Frames held before playout starts (the added latency is depthFrames × frame duration). */
  depthFrames: number;
  /** Samples per frame (160 for 20 ms at 8 kHz); shorter payloads are padded, longer ones cut. */
  frameSamples: number;
  /** Loss concealment: repeat the last frame fading out, or play silence. */
  conceal: 'fade' | 'silence';
  /** Frames buffered beyond which the oldest are skipped to bound latency (default depthFrames × 2 + 4). */
  maxFrames?: number;
  /** Consecutive lost frames after which the buffer re-primes (waits for depthFrames again); default 10. */
  resyncAfterLost?: number;
  /**
   * Recycle frames (default false): push() takes ownership of its payload, pop()'s frame stays the buffer's and is
   * valid only until the next pop(), and frames are reused through acquireFrame(), so steady playout allocates
   * nothing. For a caller that consumes each popped frame at once (e.g. resamples it into its own buffer).
   */
  recycleFrames?: boolean;
}

export interface JitterBufferStats {
  pushed: number;
  played: number;
  concealed: number;
  /** Arrived after their playout slot. */
  late: number;
  duplicates: number;
  /** Arrived after a later sequence number but still in time for playout (counted, and played in order). */
  reordered: number;
  /** Skipped to bring latency back under maxFrames. */
  overflowDropped: number;
  /** Times playout restarted from priming (start, long loss, far sequence jump). */
  resyncs: number;
  /** Frames currently held. */
  buffered: number;
}

/** Each concealed frame is the previous one scaled by this, so a burst of loss fades out in ~5 frames. */
const FADE_FACTOR = 0.5;
/** A sequence jump beyond this restarts playout at the new sequence (stream restart, SSRC change). */
const MAX_JUMP = 1000;

/**
 * Orders packets by sequence number and plays one frame per pop(). Handles reordering, duplicates, wrap-around
 * and loss (concealment). Waits for `depthFrames` before the first frame, and again after a long outage.
 */
export class JitterBuffer {
  /**
   * RTP timestamp of the frame the last pop() returned; null when that was concealment or priming silence (the
   * frame's time then follows from the one before: the media clock of the stream, e.g. for echo alignment).
   */
  lastTimestamp: number | null = null;
  readonly #depth: number;
  readonly #frameSamples: number;
  readonly #conceal: 'fade' | 'silence';
  readonly #maxFrames: number;
  readonly #resyncAfterLost: number;
  readonly #frames = new Map<number, Int16Array>();
  /** RTP timestamps of the frames held */
  readonly #timestamps = new Map<number, number>();
  /** Sequence number of the next frame to play; null while priming. */
  #next: number | null = null;
  #lostRun = 0;
  /** Highest sequence number pushed since the last reset (to tell reordering). */
  #highest: number | null = null;
  #last: Int16Array | null = null;
  readonly #recycle: boolean;
  /** Free frames (recycleFrames): bounded by what the buffer held at its fullest. */
  readonly #pool: Int16Array[] = [];
  readonly #silence: Int16Array;
  readonly stats: JitterBufferStats = {
    pushed: 0,
    played: 0,
    concealed: 0,
    late: 0,
    duplicates: 0,
    reordered: 0,
    overflowDropped: 0,
    resyncs: 0,
    buffered: 0,
  };

  constructor(opts: JitterBufferOptions) {
    if (!Number.isInteger(opts.depthFrames) || opts.depthFrames < 1) {
      throw new RangeError(`JitterBuffer depthFrames must be a positive integer, got ${opts.depthFrames}`);
    }
    this.#depth = opts.depthFrames;
    this.#frameSamples = opts.frameSamples;
    this.#conceal = opts.conceal;
    this.#maxFrames = Math.max(opts.maxFrames ?? opts.depthFrames * 2 + 4, opts.depthFrames);
    this.#resyncAfterLost = opts.resyncAfterLost ?? 10;
    this.#recycle = opts.recycleFrames ?? false;
    this.#silence = new Int16Array(this.#frameSamples);
  }

  /**
   * A frameSamples-long frame to decode a packet into and push(): a recycled one when recycleFrames is on (its
   * content is stale: overwrite all of it), else a new one.
   */
  acquireFrame(): Int16Array {
    return this.#pool.pop() ?? new Int16Array(this.#frameSamples);
  }

  /** Frames waiting in the recycle pool (for tests). */
  get pooledFrames(): number {
    return this.#pool.length;
  }

  /** Queues one frame; the buffer keeps `payload` itself (do not reuse it). */
  push(p: { sequenceNumber: number; timestamp: number; payload: Int16Array }): void {
    const seq = p.sequenceNumber & 0xffff;
    if (this.#next !== null) {
      const ahead = seqDistance(seq, this.#next);
      if (ahead < 0) {
        this.stats.late++;
        this.#release(p.payload);
        return;
      }
      if (ahead > MAX_JUMP) this.#restart();
    } else if (this.#frames.size > 0) {
      // Priming: a far jump means the stream restarted; forget what was held.
      const anyHeld = this.#frames.keys().next().value!;
      if (Math.abs(seqDistance(seq, anyHeld)) > MAX_JUMP) this.#restart();
    }
    if (this.#frames.has(seq)) {
      this.stats.duplicates++;
      this.#release(p.payload);
      return;
    }
    if (this.#highest === null || seqDistance(seq, this.#highest) > 0) this.#highest = seq;
    else this.stats.reordered++;
    this.#frames.set(seq, this.#fit(p.payload));
    this.#timestamps.set(seq, p.timestamp);
    this.stats.pushed++;
    this.stats.buffered = this.#frames.size;
  }

  /** The next 20 ms frame: audio, concealment on loss, or silence while priming. Call once per frame period. */
  pop(): Int16Array {
    this.lastTimestamp = null;
    if (this.#next === null) {
      if (this.#frames.size < this.#depth) return this.#silent();
      this.#next = this.#oldest();
    }
    this.#trimOverflow();
    const seq = this.#next;
    this.#next = (seq + 1) & 0xffff;
    const frame = this.#frames.get(seq);
    if (frame) {
      this.#frames.delete(seq);
      this.lastTimestamp = this.#timestamps.get(seq) ?? null;
      this.#timestamps.delete(seq);
      this.stats.buffered = this.#frames.size;
      this.stats.played++;
      this.#lostRun = 0;
      this.#setLast(frame);
      return frame;
    }
    this.stats.concealed++;
    this.#lostRun++;
    if (this.#lostRun >= this.#resyncAfterLost && this.#frames.size === 0) {
      this.#restart();
      return this.#silent();
    }
    return this.#concealFrame();
  }

  /** Drops everything and waits for depthFrames again. */
  reset(): void {
    if (this.#recycle) for (const frame of this.#frames.values()) this.#release(frame);
    this.#frames.clear();
    this.#timestamps.clear();
    this.#next = null;
    this.#highest = null;
    this.#setLast(null);
    this.#lostRun = 0;
    this.stats.buffered = 0;
  }

  #restart(): void {
    this.reset();
    this.stats.resyncs++;
  }

  #concealFrame(): Int16Array {
    if (this.#conceal === 'silence' || !this.#last) return this.#silent();
    const faded = this.#recycle ? this.acquireFrame() : new Int16Array(this.#frameSamples);
    const src = this.#last;
    for (let i = 0; i < faded.length; i++) faded[i] = src[i]! * FADE_FACTOR;
    this.#setLast(faded);
    return faded;
  }

  /** A silent frame: shared (and re-zeroed) when recycling, so priming allocates nothing either. */
  #silent(): Int16Array {
    return this.#recycle ? this.#silence.fill(0) : new Int16Array(this.#frameSamples);
  }

  /** The frame last played (kept for fading); the one it replaces goes back to the pool. */
  #setLast(frame: Int16Array | null): void {
    if (this.#last && this.#last !== frame) this.#release(this.#last);
    this.#last = frame;
  }

  #release(frame: Int16Array): void {
    if (this.#recycle && frame.length === this.#frameSamples && frame !== this.#silence) this.#pool.push(frame);
  }

  /** Oldest held sequence number (wrap-aware). */
  #oldest(): number {
    let oldest: number | null = null;
    for (const seq of this.#frames.keys()) {
      if (oldest === null || seqDistance(seq, oldest) < 0) oldest = seq;
    }
    return oldest!;
  }

  #trimOverflow(): void {
    if (this.#frames.size <= this.#maxFrames) return;
    const newest = this.#newest();
    // Skip ahead so that at most maxFrames remain from the new playout point.
    while (this.#frames.size > 0 && seqDistance(newest, this.#next!) >= this.#maxFrames) {
      const dropped = this.#frames.get(this.#next!);
      if (dropped) {
        this.#frames.delete(this.#next!);
        this.#timestamps.delete(this.#next!);
        this.#release(dropped);
        this.stats.overflowDropped++;
      }
      this.#next = (this.#next! + 1) & 0xffff;
    }
    this.stats.buffered = this.#frames.size;
  }

  #newest(): number {
    let newest: number | null = null;
    for (const seq of this.#frames.keys()) {
      if (newest === null || seqDistance(seq, newest) > 0) newest = seq;
    }
    return newest!;
  }

  #fit(payload: Int16Array): Int16Array {
    if (payload.length === this.#frameSamples) return payload;
    const out = new Int16Array(this.#frameSamples);
    out.set(payload.subarray(0, this.#frameSamples));
    return out;
  }
}
