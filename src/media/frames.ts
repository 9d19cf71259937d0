/** Samples in one frame of `ms` milliseconds at `rate` Hz (160 for 20 ms at 8 kHz). */
export function samplesPerFrame(rate: number, ms = 20): number {
  const n = (rate * ms) / 1000;
  if (!Number.isInteger(n) || n <= 0) {
    throw new RangeError(`samplesPerFrame: ${ms} ms at ${rate} Hz is not a whole number of samples`);
  }
  return n;
}

/** Cuts a PCM stream of arbitrary chunk sizes into fixed-size frames, keeping the remainder for the next push. */
export class FrameChunker {
  readonly #pending: Int16Array;
  #fill = 0;

  constructor(readonly samplesPerFrame: number) {
    if (!Number.isInteger(samplesPerFrame) || samplesPerFrame <= 0) {
      throw new RangeError(`FrameChunker: frame size must be a positive integer, got ${samplesPerFrame}`);
    }
    this.#pending = new Int16Array(samplesPerFrame);
  }

  /** Samples held back until the next full frame. */
  get buffered(): number {
    return this.#fill;
  }

  /** Adds samples; returns every complete frame (each a fresh array the caller may keep). */
  push(pcm: Int16Array): Int16Array[] {
    const size = this.samplesPerFrame;
    const frames: Int16Array[] = [];
    let at = 0;
    if (this.#fill > 0) {
      const take = Math.min(size - this.#fill, pcm.length);
      this.#pending.set(pcm.subarray(0, take), this.#fill);
      this.#fill += take;
      at = take;
      if (this.#fill < size) return frames;
      frames.push(this.#pending.slice());
      this.#fill = 0;
    }
    while (pcm.length - at >= size) {
      frames.push(pcm.slice(at, at + size));
      at += size;
    }
    if (at < pcm.length) {
      this.#pending.set(pcm.subarray(at), 0);
      this.#fill = pcm.length - at;
    }
    return frames;
  }

  /** Returns the held-back remainder (padded with silence to a full frame when asked), or null if none. */
  flush(padWithSilence = false): Int16Array | null {
    if (this.#fill === 0) return null;
    const out = padWithSilence ? new Int16Array(this.samplesPerFrame) : new Int16Array(this.#fill);
    out.set(this.#pending.subarray(0, this.#fill));
    this.#fill = 0;
    return out;
  }

  reset(): void {
    this.#fill = 0;
  }
}
