/**
 * Where an incoming audio stream's frames lie on this process's clock (performance.now(), ms), from the stream's
 * own media time (an RTP timestamp, or the samples received so far) rather than from when each frame arrived: a
 * frame held up by a stalled event loop, a TCP retransmission or a jitter buffer keeps its time, and a lost one
 * leaves its gap. The echo stage compares caller audio with the bot's audio sent at the same time by these stamps.
 *
 * The origin is the earliest arrival seen over the stream's first seconds (a first frame that came late must not
 * push every later one back); after that it stays put, so the alignment never moves mid-call.
 */
/** the origin may still move earlier for this long after the first frame */
const SETTLE_MS = 2000;
/** media time this far from the arrival clock is a new stream (a restart, a new SSRC): start over */
const RESTART_MS = 60_000;

export class IncomingClock {
  readonly #now: () => number;
  /** local time of media time 0; null before the first frame */
  #origin: number | null = null;
  #firstAt = 0;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** A frame whose first sample is at `mediaMs` (the stream's own media time) has arrived now. */
  arrived(mediaMs: number): void {
    const now = this.#now();
    const origin = now - mediaMs;
    if (this.#origin === null || Math.abs(origin - this.#origin) > RESTART_MS) {
      this.#origin = origin;
      this.#firstAt = now;
    } else if (origin < this.#origin && now - this.#firstAt < SETTLE_MS) this.#origin = origin;
  }

  /** The local time (ms) of media time `mediaMs`. */
  at(mediaMs: number): number {
    return (this.#origin ?? this.#now() - mediaMs) + mediaMs;
  }
}

/**
 * Stamps for a stream without timestamps (PCM over a WebSocket, which loses nothing): its media time is the count
 * of samples received, so a burst after a stall keeps each frame's place.
 */
export class SampleCountClock {
  readonly #rate: number;
  readonly #now: (() => number) | undefined;
  #clock: IncomingClock;
  #received = 0;
  #stamped = 0;

  constructor(rate: number, now?: () => number) {
    this.#rate = rate;
    this.#now = now;
    this.#clock = new IncomingClock(now);
  }

  /** `samples` (at the clock's rate) arrived now. */
  received(samples: number): void {
    this.#clock.arrived((this.#received * 1000) / this.#rate);
    this.#received += samples;
  }

  /** The stamp (local ms) of the next frame of `samples` handed on, in order. */
  next(samples: number): number {
    const at = this.#clock.at((this.#stamped * 1000) / this.#rate);
    this.#stamped += samples;
    return at;
  }

  /** A new stream (a new socket): media time starts over. */
  reset(): void {
    this.#clock = new IncomingClock(this.#now);
    this.#received = 0;
    this.#stamped = 0;
  }
}
