/**
 * In-place radix-2 complex FFT (iterative, bit-reversed order first), for the echo delay estimator's
 * cross-correlation. `re`/`im` have the same power-of-two length; `inverse` also divides by the length.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) throw new RangeError('fft: length must be a power of two');
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = (sign * 2 * Math.PI) / size;
    const wr = Math.cos(step);
    const wi = Math.sin(step);
    for (let start = 0; start < n; start += size) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = start + k;
        const b = a + half;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
        const next = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = next;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! / n;
      im[i] = im[i]! / n;
    }
  }
}

/**
 * The FFT of a real signal of `size` samples (a power of two, ≥ 4), for the echo canceller's block filter: through a
 * complex FFT of half the size (even samples as the real part, odd as the imaginary), with the twiddles and the
 * bit-reversal order computed once. Spectra are the `size / 2 + 1` non-negative frequencies (the rest mirror them).
 * `forward` is unnormalised, `inverse` divides by `size`: inverse(forward(x)) = x.
 */
export class RealFft {
  readonly size: number;
  /** size / 2 + 1 */
  readonly bins: number;
  readonly #half: number;
  readonly #reversed: Uint32Array;
  /** e^{-2πij/half}, j < half / 2: the half-size complex FFT's twiddles */
  readonly #cos: Float64Array;
  readonly #sin: Float64Array;
  /** e^{-2πik/size}, k ≤ half: splitting the half-size spectrum into the real signal's */
  readonly #wr: Float64Array;
  readonly #wi: Float64Array;
  readonly #zr: Float64Array;
  readonly #zi: Float64Array;

  constructor(size: number) {
    if (size < 4 || (size & (size - 1)) !== 0) throw new RangeError('RealFft: size must be a power of two ≥ 4');
    this.size = size;
    const half = (this.#half = size >> 1);
    this.bins = half + 1;
    this.#reversed = new Uint32Array(half);
    for (let i = 1, j = 0; i < half; i++) {
      let bit = half >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      this.#reversed[i] = j;
    }
    this.#cos = Float64Array.from({ length: half >> 1 }, (_, j) => Math.cos((2 * Math.PI * j) / half));
    this.#sin = Float64Array.from({ length: half >> 1 }, (_, j) => -Math.sin((2 * Math.PI * j) / half));
    this.#wr = Float64Array.from({ length: half + 1 }, (_, k) => Math.cos((2 * Math.PI * k) / size));
    this.#wi = Float64Array.from({ length: half + 1 }, (_, k) => -Math.sin((2 * Math.PI * k) / size));
    this.#zr = new Float64Array(half);
    this.#zi = new Float64Array(half);
  }

  /** `input` (size samples, read from `offset`) → `re`/`im` (bins). */
  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array, offset = 0): void {
    const h = this.#half;
    const zr = this.#zr;
    const zi = this.#zi;
    for (let n = 0; n < h; n++) {
      const r = this.#reversed[n]!;
      zr[r] = input[offset + 2 * n]!;
      zi[r] = input[offset + 2 * n + 1]!;
    }
    this.#butterflies(false);
    const wr = this.#wr;
    const wi = this.#wi;
    for (let k = 0; k <= h; k++) {
      const a = k === h ? 0 : k;
      const b = k === 0 ? 0 : h - k;
      const er = (zr[a]! + zr[b]!) / 2;
      const ei = (zi[a]! - zi[b]!) / 2;
      const or = (zi[a]! + zi[b]!) / 2;
      const oi = (zr[b]! - zr[a]!) / 2;
      re[k] = er + wr[k]! * or - wi[k]! * oi;
      im[k] = ei + wr[k]! * oi + wi[k]! * or;
    }
  }

  /** `re`/`im` (bins) → `out` (size samples), divided by size. */
  inverse(re: Float64Array, im: Float64Array, out: Float64Array): void {
    const h = this.#half;
    const zr = this.#zr;
    const zi = this.#zi;
    const wr = this.#wr;
    const wi = this.#wi;
    for (let k = 0; k < h; k++) {
      const er = (re[k]! + re[h - k]!) / 2;
      const ei = (im[k]! - im[h - k]!) / 2;
      const dr = (re[k]! - re[h - k]!) / 2;
      const di = (im[k]! + im[h - k]!) / 2;
      // the odd samples' spectrum: d · e^{+2πik/size}
      const or = dr * wr[k]! + di * wi[k]!;
      const oi = di * wr[k]! - dr * wi[k]!;
      const r = this.#reversed[k]!;
      zr[r] = er - oi;
      zi[r] = ei + or;
    }
    this.#butterflies(true);
    const scale = 1 / h;
    for (let n = 0; n < h; n++) {
      out[2 * n] = zr[n]! * scale;
      out[2 * n + 1] = zi[n]! * scale;
    }
  }

  /** The half-size complex FFT in place on #zr/#zi (already in bit-reversed order), unnormalised. */
  #butterflies(inverse: boolean): void {
    const h = this.#half;
    const zr = this.#zr;
    const zi = this.#zi;
    const sign = inverse ? -1 : 1;
    for (let size = 2; size <= h; size <<= 1) {
      const halfSize = size >> 1;
      const stride = h / size;
      for (let start = 0; start < h; start += size) {
        for (let k = 0; k < halfSize; k++) {
          const cr = this.#cos[k * stride]!;
          const ci = sign * this.#sin[k * stride]!;
          const a = start + k;
          const b = a + halfSize;
          const tr = zr[b]! * cr - zi[b]! * ci;
          const ti = zr[b]! * ci + zi[b]! * cr;
          zr[b] = zr[a]! - tr;
          zi[b] = zi[a]! - ti;
          zr[a] = zr[a]! + tr;
          zi[a] = zi[a]! + ti;
        }
      }
    }
  }
}
