/**
 * Streaming rational resampler: a polyphase FIR (Kaiser-windowed sinc designed here at construction).
 *
 * Upsample by L, low-pass, decimate by M, computed directly per output sample from one of L filter phases.
 * The filter's group delay is compensated: `process()` over all chunks followed by `flush()` yields exactly
 * ceil(n × to / from) samples aligned with the input. Every output sample is computed from the same products
 * in the same order whatever the chunking, so streaming is bit-exact with one pass.
 */
import { toInt16 } from './pcm.js';

/** Stopband attenuation, dB: well past G.711's own ~38 dB SNR, so aliasing stays under the codec noise. */
const STOPBAND_DB = 60;
/** Passband edge and stopband edge as fractions of the lower Nyquist frequency (3.4 kHz / 4.2 kHz at 8 kHz). */
const PASS_EDGE = 0.85;
const STOP_EDGE = 1.05;
/**
 * For the hot 2:1 and 1:2 paths (8 ↔ 16 kHz) the band is centred on Nyquist (3.4 / 4.6 kHz): a half-band filter,
 * every second tap is exactly zero and skipped, which halves the work. What folds back lands above 3.4 kHz,
 * outside the telephone band.
 */
const HALFBAND_STOP_EDGE = 1.15;

const SUPPORTED = new Set([8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]);

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series), for the Kaiser window. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

interface PolyphaseFilter {
  /**
   * Non-zero coefficients by phase (already scaled by L): phase p occupies [start[p], start[p+1]) of `coefs`,
   * and `offsets` holds each one's distance back from the newest input sample.
   */
  coefs: Float64Array;
  offsets: Int32Array;
  start: Int32Array;
  /**
   * Phases whose taps are evenly spaced and symmetric (all of them for 8 ↔ 16 kHz and for L = 1) fold each
   * pair of equal coefficients into one multiply: pair k of phase p is pairCoefs[pairStart[p] + k], applied to
   * the samples at offsets first[p] + k·stride[p] and last[p] − k·stride[p]; midOffset[p] ≥ 0 adds a centre tap.
   */
  symmetric: Uint8Array;
  pairCoefs: Float64Array;
  pairStart: Int32Array;
  pairEnd: Int32Array;
  first: Int32Array;
  last: Int32Array;
  stride: Int32Array;
  midOffset: Int32Array;
  midCoef: Float64Array;
  /** Input samples one output looks back over (history kept between chunks is taps - 1). */
  taps: number;
  /** Group delay in upsampled samples. */
  delay: number;
}

const filterCache = new Map<string, PolyphaseFilter>();

function designFilter(fromRate: number, toRate: number, up: number): PolyphaseFilter {
  const key = `${fromRate}:${toRate}`;
  const cached = filterCache.get(key);
  if (cached) return cached;

  const protoRate = fromRate * up;
  const nyquist = Math.min(fromRate, toRate) / 2;
  const halfband = fromRate === 2 * toRate || toRate === 2 * fromRate;
  const stopEdge = halfband ? HALFBAND_STOP_EDGE : STOP_EDGE;
  const transitionHz = (stopEdge - PASS_EDGE) * nyquist;
  const cutoffHz = ((PASS_EDGE + stopEdge) / 2) * nyquist;
  const beta = 0.1102 * (STOPBAND_DB - 8.7);
  const estimate = Math.ceil((STOPBAND_DB - 8) / (2.285 * ((2 * Math.PI * transitionHz) / protoRate))) + 1;
  const taps = Math.max(2, Math.ceil(estimate / up));
  const length = taps * up;
  // Odd designed length (a trailing zero tap pads it to taps × up) puts the delay on a whole upsampled sample.
  const designed = length % 2 === 1 ? length : length - 1;
  const center = (designed - 1) / 2;
  const fc = cutoffHz / protoRate; // cycles per upsampled sample
  const i0Beta = besselI0(beta);

  const proto = new Float64Array(length);
  let sum = 0;
  for (let j = 0; j < designed; j++) {
    const t = j - center;
    const sinc = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    const r = t / (center || 1);
    const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    proto[j] = sinc * window;
    sum += proto[j]!;
  }
  // Unity DC gain after upsampling by L (which inserts L-1 zeros per sample).
  const gain = up / sum;
  let peak = 0;
  for (let j = 0; j < designed; j++) peak = Math.max(peak, Math.abs(proto[j]!));
  const coefList: number[] = [];
  const offsetList: number[] = [];
  const start = new Int32Array(up + 1);
  for (let p = 0; p < up; p++) {
    start[p] = coefList.length;
    for (let k = 0; k < taps; k++) {
      const c = proto[p + k * up]!;
      if (Math.abs(c) <= peak * 1e-9) continue; // the half-band zeros (and the odd-length pad)
      coefList.push(c * gain);
      offsetList.push(k);
    }
  }
  start[up] = coefList.length;
  const filter: PolyphaseFilter = {
    coefs: Float64Array.from(coefList),
    offsets: Int32Array.from(offsetList),
    start,
    ...foldSymmetricPhases(coefList, offsetList, start, up),
    taps,
    delay: center,
  };
  filterCache.set(key, filter);
  return filter;
}

type SymmetricPart = Pick<
  PolyphaseFilter,
  'symmetric' | 'pairCoefs' | 'pairStart' | 'pairEnd' | 'first' | 'last' | 'stride' | 'midOffset' | 'midCoef'
>;

function foldSymmetricPhases(coefs: number[], offsets: number[], start: Int32Array, up: number): SymmetricPart {
  const part: SymmetricPart = {
    symmetric: new Uint8Array(up),
    pairCoefs: new Float64Array(0),
    pairStart: new Int32Array(up),
    pairEnd: new Int32Array(up),
    first: new Int32Array(up),
    last: new Int32Array(up),
    stride: new Int32Array(up),
    midOffset: new Int32Array(up).fill(-1),
    midCoef: new Float64Array(up),
  };
  const pairs: number[] = [];
  for (let p = 0; p < up; p++) {
    const from = start[p]!;
    const n = start[p + 1]! - from;
    if (n < 1) continue;
    const stride = n > 1 ? offsets[from + 1]! - offsets[from]! : 1;
    let symmetric = true;
    // Pairs must be evenly spaced and equal; the centre tap (odd count) may sit off that grid (half-band).
    for (let i = 0; i < n >> 1 && symmetric; i++) {
      const a = coefs[from + i]!;
      const b = coefs[from + n - 1 - i]!;
      if (offsets[from + i]! !== offsets[from]! + i * stride) symmetric = false;
      else if (offsets[from + n - 1 - i]! !== offsets[from + n - 1]! - i * stride) symmetric = false;
      else if (Math.abs(a - b) > 1e-9 * Math.max(Math.abs(a), Math.abs(b))) symmetric = false;
    }
    if (!symmetric) continue;
    part.symmetric[p] = 1;
    part.pairStart[p] = pairs.length;
    part.first[p] = offsets[from]!;
    part.last[p] = offsets[from + n - 1]!;
    part.stride[p] = stride;
    for (let i = 0; i < n >> 1; i++) pairs.push((coefs[from + i]! + coefs[from + n - 1 - i]!) / 2);
    part.pairEnd[p] = pairs.length;
    if (n & 1) {
      part.midOffset[p] = offsets[from + (n >> 1)]!;
      part.midCoef[p] = coefs[from + (n >> 1)]!;
    }
  }
  part.pairCoefs = Float64Array.from(pairs);
  return part;
}

export class Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  readonly #up: number;
  readonly #down: number;
  readonly #filter: PolyphaseFilter | null;
  /** L ≤ 2 with every phase symmetric: the hoisted loops in run() apply. */
  readonly #hotPath: boolean;
  /** The hot path compiled with its taps unrolled (see compileHotLoop); null when not applicable. */
  readonly #hotLoop: HotLoop | null;
  /** Input history (taps-1 samples) followed by the current chunk. */
  #work = new Float64Array(0);
  #history: Float64Array;
  /** Next output: input index (relative to the next chunk's first sample) of its newest tap, and filter phase. */
  #pos = 0;
  #phase = 0;
  #inputCount = 0;
  #outputCount = 0;

  constructor(fromRate: number, toRate: number) {
    for (const rate of [fromRate, toRate]) {
      if (!SUPPORTED.has(rate)) {
        throw new RangeError(`Resampler: unsupported rate ${rate} Hz (supported: ${[...SUPPORTED].join(', ')})`);
      }
    }
    this.fromRate = fromRate;
    this.toRate = toRate;
    const g = gcd(fromRate, toRate);
    this.#up = toRate / g;
    this.#down = fromRate / g;
    this.#filter = fromRate === toRate ? null : designFilter(fromRate, toRate, this.#up);
    this.#history = new Float64Array(this.#filter ? this.#filter.taps - 1 : 0);
    this.#hotPath = !!this.#filter && this.#up <= 2 && this.#filter.symmetric.every((x) => x === 1);
    this.#hotLoop = this.#hotPath ? hotLoopFor(this.#filter!, this.#up, this.#down) : null;
    this.reset();
  }

  /**
   * Resample one chunk of any length; returns the samples now available (may be empty). With `out` (at least
   * `maxOutput(input.length)` long) the samples are written there and a view of it is returned: no allocation
   * on the per-frame path.
   */
  process(input: Int16Array, out?: Int16Array): Int16Array {
    if (out && out.length < this.maxOutput(input.length)) {
      throw new RangeError(`Resampler: output holds ${out.length}, need ${this.maxOutput(input.length)}`);
    }
    this.#inputCount += input.length;
    if (!this.#filter) {
      this.#outputCount += input.length;
      if (!out) return input.slice();
      out.set(input);
      return out.subarray(0, input.length);
    }
    return this.#run(input, Infinity, out);
  }

  /** The most samples process() can return for an input of `inputLength` samples. */
  maxOutput(inputLength: number): number {
    return Math.ceil(((inputLength + 1) * this.#up) / this.#down) + 1;
  }

  /** End of stream: emits the delayed tail so the total output is ceil(inputs × to / from); then resets. */
  flush(): Int16Array {
    if (!this.#filter) {
      this.reset();
      return new Int16Array(0);
    }
    const wanted = Math.ceil((this.#inputCount * this.#up) / this.#down) - this.#outputCount;
    const parts: Int16Array[] = [];
    let remaining = wanted;
    const zeros = new Int16Array(this.#filter.taps + this.#down);
    while (remaining > 0) {
      const part = this.#run(zeros, remaining);
      remaining -= part.length;
      parts.push(part);
    }
    this.reset();
    return concatInt16(parts);
  }

  reset(): void {
    this.#history.fill(0);
    this.#inputCount = 0;
    this.#outputCount = 0;
    // Start at the filter delay so output sample 0 lines up with input sample 0.
    const start = this.#filter ? this.#filter.delay : 0;
    this.#pos = Math.floor(start / this.#up);
    this.#phase = start % this.#up;
  }

  #run(input: Int16Array, maxOut: number, into?: Int16Array): Int16Array {
    const filter = this.#filter!;
    const { coefs, offsets, start, taps, symmetric, pairCoefs, pairStart, pairEnd, first, last, stride } = filter;
    const { midOffset, midCoef } = filter;
    const up = this.#up;
    const down = this.#down;
    const hist = taps - 1;
    const n = input.length;
    if (this.#work.length < hist + n) this.#work = new Float64Array(hist + n);
    const work = this.#work;
    work.set(this.#history, 0);
    for (let i = 0; i < n; i++) work[hist + i] = input[i]!;

    // Outputs whose newest input sample lies inside this chunk: pos + floor((phase + k*down)/up) < n.
    const available = Math.max(0, Math.ceil(((n - this.#pos) * up - this.#phase) / down));
    const count = Math.min(available, maxOut);
    const out = into ? into.subarray(0, count) : new Int16Array(count);
    let pos = this.#pos;
    let phase = this.#phase;
    let o = 0;
    if (this.#hotLoop) {
      const state = this.#hotLoop(work, out, count, hist, pos, phase);
      pos = Math.floor(state / up);
      phase = state - pos * up;
      o = count;
    } else if (this.#hotPath) {
      // Hot paths (8 ↔ 16 kHz and every L = 1 ratio): per-phase parameters hoisted out of the sample loop.
      const p0 = [stride[0]!, first[0]!, last[0]!, pairStart[0]!, pairEnd[0]!, midOffset[0]!] as const;
      const m0 = midCoef[0]!;
      if (up === 1) {
        for (; o < count; o++, pos += down) {
          const newest = hist + pos;
          let acc = foldedTaps(work, pairCoefs, p0[3], p0[4], newest - p0[1], newest - p0[2], p0[0]);
          if (p0[5] >= 0) acc += m0 * work[newest - p0[5]]!;
          out[o] = toInt16(acc);
        }
      } else if (down === 1) {
        const p1 = [stride[1]!, first[1]!, last[1]!, pairStart[1]!, pairEnd[1]!, midOffset[1]!] as const;
        const m1 = midCoef[1]!;
        for (; o < count; o++) {
          const newest = hist + pos;
          let acc: number;
          if (phase === 0) {
            acc = foldedTaps(work, pairCoefs, p0[3], p0[4], newest - p0[1], newest - p0[2], p0[0]);
            if (p0[5] >= 0) acc += m0 * work[newest - p0[5]]!;
            phase = 1;
          } else {
            acc = foldedTaps(work, pairCoefs, p1[3], p1[4], newest - p1[1], newest - p1[2], p1[0]);
            if (p1[5] >= 0) acc += m1 * work[newest - p1[5]]!;
            phase = 0;
            pos++;
          }
          out[o] = toInt16(acc);
        }
      }
    }
    for (; o < count; o++) {
      const newest = hist + pos;
      let acc = 0;
      if (symmetric[phase] === 1) {
        acc = foldedTaps(
          work,
          pairCoefs,
          pairStart[phase]!,
          pairEnd[phase]!,
          newest - first[phase]!,
          newest - last[phase]!,
          stride[phase]!,
        );
        const mid = midOffset[phase]!;
        if (mid >= 0) acc += midCoef[phase]! * work[newest - mid]!;
      } else {
        const end = start[phase + 1]!;
        for (let k = start[phase]!; k < end; k++) acc += coefs[k]! * work[newest - offsets[k]!]!;
      }
      out[o] = toInt16(acc);
      phase += down;
      while (phase >= up) {
        phase -= up;
        pos++;
      }
    }
    this.#outputCount += count;
    this.#pos = pos - n;
    this.#phase = phase;
    this.#history.set(work.subarray(n, n + hist));
    return out;
  }
}

/** Runs a chunk's outputs from (pos, phase); returns the end state as pos × up + phase. */
type HotLoop = (work: Float64Array, out: Int16Array, count: number, hist: number, pos: number, phase: number) => number;

const hotLoops = new WeakMap<PolyphaseFilter, HotLoop>();

function hotLoopFor(filter: PolyphaseFilter, up: number, down: number): HotLoop | null {
  if (up > 2 || (up === 2 && down !== 1)) return null;
  let loop = hotLoops.get(filter);
  if (!loop) {
    loop = compileHotLoop(filter, up, down);
    hotLoops.set(filter, loop);
  }
  return loop;
}

/**
 * The 8 ↔ 16 kHz (and every L = 1) inner loop generated with each tap written out and its coefficient as a
 * literal: no coefficient loads, loop counters or per-phase lookups per output, about twice as fast as the generic
 * loop. Same products summed in the same order as foldedTaps, so the output is bit-identical to it (a number's
 * String() form reads back exactly). Generated from numbers designed here, never from outside input.
 */
function compileHotLoop(filter: PolyphaseFilter, up: number, down: number): HotLoop {
  const phaseBody = (p: number): string => {
    const lines = ['acc = 0;'];
    let ia = filter.first[p]!;
    let ib = filter.last[p]!;
    for (let k = filter.pairStart[p]!; k < filter.pairEnd[p]!; k++) {
      lines.push(`acc += ${String(filter.pairCoefs[k]!)} * (work[n - ${ia}] + work[n - ${ib}]);`);
      ia += filter.stride[p]!;
      ib -= filter.stride[p]!;
    }
    const mid = filter.midOffset[p]!;
    if (mid >= 0) lines.push(`acc += ${String(filter.midCoef[p]!)} * work[n - ${mid}];`);
    return lines.join('\n');
  };
  const store = 'r = Math.round(acc); out[o] = r > 32767 ? 32767 : r < -32768 ? -32768 : r;';
  const body =
    up === 1
      ? `for (let o = 0; o < count; o++, pos += ${down}) { const n = hist + pos; ${phaseBody(0)} ${store} }
         return pos;`
      : `for (let o = 0; o < count; o++) {
           const n = hist + pos;
           if (phase === 0) { ${phaseBody(0)} phase = 1; } else { ${phaseBody(1)} phase = 0; pos++; }
           ${store}
         }
         return pos * 2 + phase;`;
  return new Function('work', 'out', 'count', 'hist', 'pos', 'phase', `let acc = 0; let r = 0; ${body}`) as HotLoop;
}

/** Σ c[k]·(x[ia − k·step] + x[ib + k·step]): one folded symmetric phase. Small enough for V8 to inline. */
function foldedTaps(
  work: Float64Array,
  coefs: Float64Array,
  from: number,
  to: number,
  ia: number,
  ib: number,
  step: number,
): number {
  let acc = 0;
  for (let k = from; k < to; k++) {
    acc += coefs[k]! * (work[ia]! + work[ib]!);
    ia -= step;
    ib += step;
  }
  return acc;
}

function concatInt16(parts: Int16Array[]): Int16Array {
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One-shot resampling of a whole signal (aligned, length ceil(n × to / from)). */
export function resample(input: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return input.slice();
  const r = new Resampler(fromRate, toRate);
  return concatInt16([r.process(input), r.flush()]);
}
