/**
 * An in-place radix-2 complex FFT of one power-of-two length, with the twiddles and the bit-reversal order computed
 * once (the echo delay estimator's correlations, and inside RealFft). `forward` uses e^{-2πi/n}; `inverse` e^{+2πi/n}
 * and divides by the length.
 */
export class ComplexFft {
  readonly size: number;
  readonly #reversed: Uint32Array;
  /** e^{-2πij/size}, j < size / 2 */
  readonly #cos: Float64Array;
  readonly #sin: Float64Array;

  constructor(size: number) {
    if (size < 1 || (size & (size - 1)) !== 0) throw new RangeError('fft: length must be a power of two');
    this.size = size;
    this.#reversed = new Uint32Array(size);
    for (let i = 1, j = 0; i < size; i++) {
      let bit = size >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      this.#reversed[i] = j;
    }
    this.#cos = Float64Array.from({ length: size >> 1 }, (_, j) => Math.cos((2 * Math.PI * j) / size));
    this.#sin = Float64Array.from({ length: size >> 1 }, (_, j) => -Math.sin((2 * Math.PI * j) / size));
  }

  /** The index sample `i` goes to before the butterflies (bit-reversed). */
  reversed(i: number): number {
    return this.#reversed[i]!;
  }

  /** In place; `re`/`im` hold `size` values each. */
  transform(re: Float64Array, im: Float64Array, inverse = false): void {
    const n = this.size;
    if (re.length !== n || im.length !== n) throw new RangeError('fft: length must be a power of two');
    for (let i = 1; i < n; i++) {
      const j = this.#reversed[i]!;
      if (i < j) {
        [re[i], re[j]] = [re[j]!, re[i]!];
        [im[i], im[j]] = [im[j]!, im[i]!];
      }
    }
    this.butterflies(re, im, inverse);
    if (inverse) {
      for (let i = 0; i < n; i++) {
        re[i] = re[i]! / n;
        im[i] = im[i]! / n;
      }
    }
  }

  /** The butterflies on values already in bit-reversed order, unnormalised. */
  butterflies(re: Float64Array, im: Float64Array, inverse: boolean): void {
    const n = this.size;
    const sign = inverse ? -1 : 1;
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1;
      const stride = n / size;
      for (let start = 0; start < n; start += size) {
        for (let k = 0; k < half; k++) {
          const cr = this.#cos[k * stride]!;
          const ci = sign * this.#sin[k * stride]!;
          const a = start + k;
          const b = a + half;
          const tr = re[b]! * cr - im[b]! * ci;
          const ti = re[b]! * ci + im[b]! * cr;
          re[b] = re[a]! - tr;
          im[b] = im[a]! - ti;
          re[a] = re[a]! + tr;
          im[a] = im[a]! + ti;
        }
      }
    }
  }
}

const transforms = new Map<number, ComplexFft>();

/** In-place complex FFT of `re`/`im` (same power-of-two length; `inverse` also divides by it), tables kept per length. */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) throw new RangeError('fft: length must be a power of two');
  let t = transforms.get(n);
  if (!t) transforms.set(n, (t = new ComplexFft(n)));
  t.transform(re, im, inverse);
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
  /** the half-size complex FFT */
  readonly #complex: ComplexFft;
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
    this.#complex = new ComplexFft(half);
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
      const r = this.#complex.reversed(n);
      zr[r] = input[offset + 2 * n]!;
      zi[r] = input[offset + 2 * n + 1]!;
    }
    this.#complex.butterflies(zr, zi, false);
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
      const r = this.#complex.reversed(k);
      zr[r] = er - oi;
      zi[r] = ei + or;
    }
    this.#complex.butterflies(zr, zi, true);
    const scale = 1 / h;
    for (let n = 0; n < h; n++) {
      out[2 * n] = zr[n]! * scale;
      out[2 * n + 1] = zi[n]! * scale;
    }
  }
}
