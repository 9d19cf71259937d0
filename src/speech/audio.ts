/** Small PCM helpers shared by the speech adapters (PCM16 mono unless said otherwise). */

/** PCM16 → float in [-1, 1), the form ONNX VAD and whisper.cpp take. */
export function int16ToFloat32(pcm: Int16Array, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) dst[i] = (pcm[i] as number) / 32768;
  return dst;
}

/** Mean power of `pcm[start, start+n)` in dB (0 dB = all zero, ~90 dB = full scale). */
export function energyDb(pcm: Int16Array, start = 0, n = pcm.length - start): number {
  if (n <= 0) return 0;
  let sum = 0;
  for (let i = start; i < start + n; i++) {
    const s = pcm[i] as number;
    sum += s * s;
  }
  return 10 * Math.log10(sum / n + 1);
}

/**
 * Audio kept since an absolute sample index (for pre-roll and the utterance itself).
 * Appends are amortised O(1); trimming drops old samples without copying on every call.
 */
export class PcmHistory {
  #buf = new Int16Array(16_000);
  #from = 0; // index in buf of the oldest kept sample
  #to = 0; // index in buf after the newest sample
  /** absolute index of buf[from] */
  #base = 0;

  /** absolute index one past the newest sample */
  get end(): number {
    return this.#base + (this.#to - this.#from);
  }

  get start(): number {
    return this.#base;
  }

  append(pcm: Int16Array): void {
    if (this.#to + pcm.length > this.#buf.length) this.#compact(pcm.length);
    this.#buf.set(pcm, this.#to);
    this.#to += pcm.length;
  }

  /** Forget samples before absolute index `abs`. */
  dropBefore(abs: number): void {
    const n = Math.min(Math.max(0, abs - this.#base), this.#to - this.#from);
    this.#from += n;
    this.#base += n;
  }

  /** Copy of absolute range [a, b), clamped to what is kept. */
  slice(a: number, b: number): Int16Array {
    const lo = Math.max(a, this.#base) - this.#base + this.#from;
    const hi = Math.min(b, this.end) - this.#base + this.#from;
    return hi > lo ? this.#buf.slice(lo, hi) : new Int16Array(0);
  }

  clear(): void {
    this.#base = this.end;
    this.#from = this.#to = 0;
  }

  #compact(extra: number): void {
    const kept = this.#to - this.#from;
    const size = Math.max(this.#buf.length, (kept + extra) * 2);
    const next = size === this.#buf.length ? this.#buf : new Int16Array(size);
    next.set(this.#buf.subarray(this.#from, this.#to), 0); // set() copes with overlap in the same buffer
    this.#buf = next;
    this.#from = 0;
    this.#to = kept;
  }
}
