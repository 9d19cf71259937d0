import { RealFft } from './fft.js';

/**
 * The echo canceller's adaptive filter: a frequency-domain, partitioned-block filter (MDF, the multidelay block
 * frequency-domain filter, as in SpeexDSP's mdf.c, written from its method) with a step per frequency bin.
 *
 * The filter's span (`partitions` × `block` taps) is cut into partitions of one block each; every block, the
 * reference's last two blocks go through an FFT once and each partition's spectrum multiplies the spectrum of the
 * reference `j` blocks back (overlap-save), so filtering and adapting cost a few FFTs per block instead of a
 * multiply per tap per sample. Why it converges in double talk where a time-domain NLMS does not:
 * - **a step per bin**, normalised by the reference's power in that bin: speech is coloured (most of its energy
 *   below 1 kHz), and a fullband step learns its quiet bands at the pace of the loud ones;
 * - **the step from the residual echo, bin by bin**: the best step is the share of the error that is echo still to
 *   remove. The echo left is the "leak" (a regression, over frequency and time, of the error's power fluctuations
 *   on the echo estimate's: the caller does not follow the bot, so talking does not inflate it) times the echo
 *   estimate in that bin; divided by the error there. Where the caller's speech is, the step is small, where only
 *   echo is, it stays large: it keeps learning (slowly) through double talk instead of freezing, and two voices
 *   seldom fill the same bins at the same moment;
 * - **two filters**: the background adapts; the foreground makes the output and takes the background's taps when
 *   they leave significantly less (against the variance of the difference), and gives its own back when the
 *   background has gone significantly worse (thrown off by the caller).
 *
 * Until the filter has adapted a little (the leak's step needs an echo estimate to scale), the step is fixed, scaled
 * by the share of the error the line's echo gain allows (`echoGain`), and concentrated on the partitions where the
 * echo is expected to start (`expectEchoAt`).
 */
/** the residual echo is never taken for less than this share of the echo estimate (23 dB) */
const MIN_LEAK = 0.005;
/**
 * The fixed step before the filter has adapted a little, and how much of it (summed over blocks, per partition)
 * counts as a little: about a quarter second of the bot talking.
 */
const FIRST_STEP = 0.5;
const ADAPTED_AFTER = 4;
/** before the first adaptation, each partition's share of the step falls by this factor per block from the echo's start */
const FIRST_PROP_DECAY = Math.exp(-2);
/** the echo estimate's correlation with the error (a lower bound on the residual's echo share) decays per block */
const CORRELATION_DECAY = 0.95;
/** foreground/background: smoothing of the difference's mean and variance, thresholds (SpeexDSP's) */
const VAR1_SMOOTH = 0.36;
const VAR2_SMOOTH = 0.7225;
const VAR1_UPDATE = 0.5;
const VAR2_UPDATE = 0.25;
const VAR_BACKTRACK = 4;
/** a cleared foreground's taps are kept this long, s, for a new delay to take them back */
const SHELF_S = 2;

export class BlockFilter {
  readonly block: number;
  readonly partitions: number;
  /** the foreground's echo estimate for the current block (`begin`), time order */
  readonly echo: Float64Array;
  /**
   * The line's echo gain (energy) where known (0: not yet): before the filter has adapted, what share of the error
   * can be echo at most (a caller far above a weak echo must not be learned at full step).
   */
  echoGain = 0;
  /**
   * The caller is talking over the echo (the canceller's double-talk detector, once the filter cancels): the
   * foreground keeps its taps (the background still adapts, at its small step, and may be reset to them).
   */
  holdForeground = false;
  readonly #fft: RealFft;
  readonly #bins: number;
  /** reference spectra, one per partition: slot (#head - j) mod partitions is j blocks back */
  readonly #xr: Float64Array;
  readonly #xi: Float64Array;
  #head = 0;
  /** foreground and background filters' spectra, partition-major */
  readonly #fr: Float64Array;
  readonly #fi: Float64Array;
  readonly #br: Float64Array;
  readonly #bi: Float64Array;
  /** the foreground's taps as they were when it was cleared (until a realignment takes them back) */
  #shelved: [Float64Array, Float64Array] | null = null;
  #shelvedBlocks = 0;
  /** how long shelved taps are kept (a new delay is found within a second) */
  readonly #shelfBlocks: number;
  /** the background's echo estimate this block */
  readonly #bgEcho: Float64Array;
  /** per bin: smoothed reference power; smoothed error and echo power (the leak's regression); this block's step */
  readonly #power: Float64Array;
  readonly #eh: Float64Array;
  readonly #yh: Float64Array;
  readonly #step: Float64Array;
  /** each partition's share of the step (proportionate: the partitions holding the echo learn faster) */
  readonly #prop: Float64Array;
  #powerBlocks = 0;
  /** 1 / (1 - (1 - smoothing)^blocks): the smoothed power's start from zero, corrected */
  #powerCorrection = 1;
  /** the leak's regression, as it stands (what #updateStep takes for the residual echo's share) */
  #leakEstimate = 1;
  #pey = 1;
  #pyy = 1;
  #sumAdapt = 0;
  #sey = 0;
  #see = 0;
  #syy = 0;
  #adapted = false;
  #davg1 = 0;
  #davg2 = 0;
  #dvar1 = 0;
  #dvar2 = 0;
  #blocks = 0;
  /** the reference's new block's energy (begin), for end */
  #sxx = 0;
  // scratch
  readonly #time: Float64Array;
  readonly #sr: Float64Array;
  readonly #si: Float64Array;
  readonly #er: Float64Array;
  readonly #ei: Float64Array;
  readonly #reg: number;
  readonly #floor: number;
  readonly #powerSmooth: number;
  readonly #specAverage: number;
  readonly #beta0: number;
  readonly #betaMax: number;

  /**
   * `block`: samples per block (a power of two); `partitions`: blocks in the span; `rate`: the sample rate (the
   * smoothing constants are in seconds); `noiseEnergy`: a per-sample energy below which nothing is learned from.
   */
  constructor(block: number, partitions: number, rate: number, noiseEnergy: number) {
    this.block = block;
    this.partitions = partitions;
    this.#fft = new RealFft(2 * block);
    const bins = (this.#bins = this.#fft.bins);
    const n = bins * partitions;
    this.#xr = new Float64Array(n);
    this.#xi = new Float64Array(n);
    this.#fr = new Float64Array(n);
    this.#fi = new Float64Array(n);
    this.#br = new Float64Array(n);
    this.#bi = new Float64Array(n);
    this.echo = new Float64Array(block);
    this.#bgEcho = new Float64Array(block);
    this.#power = new Float64Array(bins);
    this.#eh = new Float64Array(bins);
    this.#yh = new Float64Array(bins);
    this.#step = new Float64Array(bins);
    this.#prop = new Float64Array(partitions);
    this.#time = new Float64Array(2 * block);
    this.#sr = new Float64Array(bins);
    this.#si = new Float64Array(bins);
    this.#er = new Float64Array(bins);
    this.#ei = new Float64Array(bins);
    // a bin's reference power for noise at noiseEnergy (unnormalised FFT of 2N samples)
    this.#reg = 2 * block * noiseEnergy;
    this.#floor = block * noiseEnergy;
    this.#powerSmooth = 0.35 / partitions;
    this.#specAverage = block / rate;
    this.#beta0 = (2 * block) / rate;
    this.#betaMax = (0.5 * block) / rate;
    this.#shelfBlocks = Math.round((SHELF_S * rate) / block);
    this.expectEchoAt(0);
  }

  /**
   * Start a block: `ref[offset .. offset + 2N)` is the reference the first partition reads (the last block's and
   * this block's). Computes both filters' echo estimates for the block (the foreground's in `echo`).
   */
  begin(ref: ArrayLike<number>, offset: number): void {
    this.#head = (this.#head + 1) % this.partitions;
    this.#transform(ref, offset, this.#head);
    let sxx = 0;
    for (let i = this.block; i < 2 * this.block; i++) sxx += ref[offset + i]! ** 2;
    this.#sxx = sxx;
    this.#filter(this.#fr, this.#fi, this.echo);
    this.#filter(this.#br, this.#bi, this.#bgEcho);
  }

  /**
   * Re-read the reference history at a new placement (the delay moved; the taps stay): `history` holds
   * `partitions` × `block` samples of reference, oldest first, ending half way into the next `begin`'s window.
   */
  realign(history: ArrayLike<number>): void {
    const m = this.partitions;
    if (this.#shelved) {
      const [re, im] = this.#shelved;
      this.#fr.set(re);
      this.#fi.set(im);
      this.#br.set(re);
      this.#bi.set(im);
      this.#shelved = null;
    }
    // the windows of partitions m-1 .. 1 as the next begin will see them; it then fills partition 0's
    for (let j = m - 1; j >= 1; j--) {
      this.#head = (this.#head + 1) % m;
      this.#transform(history, (m - 1 - j) * this.block, this.#head);
    }
  }

  /**
   * The foreground forgets what it learned (it was making the line louder: the alignment moved, or it diverged).
   * Its taps are kept aside: if the delay is found to have moved (`realign`), they are the line's response again.
   */
  clearForeground(): void {
    // (cleared again while the delay is being found anew: the first taps kept are the line's, the later ones were
    // learned at the wrong alignment)
    if (!this.#shelved) {
      this.#shelved = [Float64Array.from(this.#fr), Float64Array.from(this.#fi)];
      this.#shelvedBlocks = 0;
    }
    this.#fr.fill(0);
    this.#fi.fill(0);
  }

  /** End the block begun last: `mic` is the caller audio of it (N samples). Adapts the background. */
  end(mic: ArrayLike<number>, at = 0): void {
    const n = this.block;
    const fg = this.echo;
    const bg = this.#bgEcho;
    let sff = 0;
    let see = 0;
    let dbf = 0;
    for (let i = 0; i < n; i++) {
      const d = mic[at + i]!;
      sff += (d - fg[i]!) ** 2;
      see += (d - bg[i]!) ** 2;
      dbf += (fg[i]! - bg[i]!) ** 2;
    }
    dbf += 10;
    if (this.#compare(sff, see, dbf)) see = sff;
    // the background's error and echo estimate, zero-padded in front (the gradient's overlap-save form)
    const time = this.#time;
    time.fill(0, 0, n);
    let syy = 0;
    let sey = 0;
    for (let i = 0; i < n; i++) {
      const e = mic[at + i]! - bg[i]!;
      time[n + i] = e;
      syy += bg[i]! * bg[i]!;
      sey += e * bg[i]!;
    }
    this.#fft.forward(time, this.#er, this.#ei);
    for (let i = 0; i < n; i++) time[n + i] = bg[i]!;
    this.#fft.forward(time, this.#sr, this.#si);
    see = Math.max(see, this.#floor / 64);
    this.#updateLeak(syy, see);
    this.#updateStep(syy, see, sey);
    if (this.#adapted) this.#updateProp();
    this.#adapt();
    this.#blocks++;
    if (this.#shelved && ++this.#shelvedBlocks > this.#shelfBlocks) this.#shelved = null;
  }

  /**
   * The two-path decision (SpeexDSP's): the foreground takes the background's taps when the background's error is
   * lower by more than the difference's spread explains, now or on average over two windows; the background takes the
   * foreground's back when it is worse by four times that. Returns true when the background was reset (its error is
   * then the foreground's).
   */
  #compare(sff: number, see: number, dbf: number): boolean {
    const diff = sff - see;
    this.#davg1 = 0.6 * this.#davg1 + 0.4 * diff;
    this.#davg2 = 0.85 * this.#davg2 + 0.15 * diff;
    this.#dvar1 = VAR1_SMOOTH * this.#dvar1 + 0.16 * sff * dbf;
    this.#dvar2 = VAR2_SMOOTH * this.#dvar2 + 0.0225 * sff * dbf;
    const update =
      !this.holdForeground &&
      (diff * Math.abs(diff) > sff * dbf ||
        this.#davg1 * Math.abs(this.#davg1) > VAR1_UPDATE * this.#dvar1 ||
        this.#davg2 * Math.abs(this.#davg2) > VAR2_UPDATE * this.#dvar2);
    if (update) {
      this.#fr.set(this.#br);
      this.#fi.set(this.#bi);
      this.#resetComparison();
      return false;
    }
    const reset =
      -diff * Math.abs(diff) > VAR_BACKTRACK * sff * dbf ||
      -this.#davg1 * Math.abs(this.#davg1) > VAR_BACKTRACK * this.#dvar1 ||
      -this.#davg2 * Math.abs(this.#davg2) > VAR_BACKTRACK * this.#dvar2;
    if (!reset) return false;
    this.#br.set(this.#fr);
    this.#bi.set(this.#fi);
    this.#bgEcho.set(this.echo);
    this.#resetComparison();
    return true;
  }

  #resetComparison(): void {
    this.#davg1 = this.#davg2 = this.#dvar1 = this.#dvar2 = 0;
  }

  /**
   * The leak: the regression of the error's power on the echo estimate's, both as deviations from their own slow
   * averages per bin (what changes with the bot's speech), summed over the bins and averaged over time at a rate
   * that follows how much of the error the echo estimate is (slow when the error is mostly something else).
   */
  #updateLeak(syy: number, see: number): void {
    const bins = this.#bins;
    const a = this.#specAverage;
    let pey = 0;
    let pyy = 0;
    const xr = this.#xr;
    const xi = this.#xi;
    const base = this.#head * bins;
    const smooth = this.#powerSmooth;
    // the reference's power per bin, smoothed (corrected for its start from zero)
    this.#powerBlocks++;
    this.#powerCorrection = 1 / (1 - (1 - smooth) ** this.#powerBlocks);
    for (let f = 0; f < bins; f++) {
      const rf = this.#er[f]! ** 2 + this.#ei[f]! ** 2;
      const yf = this.#sr[f]! ** 2 + this.#si[f]! ** 2;
      const eh = rf - this.#eh[f]!;
      const yh = yf - this.#yh[f]!;
      pey += eh * yh;
      pyy += yh * yh;
      this.#eh[f] = (1 - a) * this.#eh[f]! + a * rf;
      this.#yh[f] = (1 - a) * this.#yh[f]! + a * yf;
      const xf = xr[base + f]! ** 2 + xi[base + f]! ** 2;
      this.#power[f] = (1 - smooth) * this.#power[f]! + smooth * xf;
    }
    pyy = Math.sqrt(pyy);
    if (pyy > 0) pey /= pyy;
    const alpha = Math.min(this.#beta0 * syy, this.#betaMax * see) / see;
    this.#pey = (1 - alpha) * this.#pey + alpha * pey;
    this.#pyy = Math.max(1, (1 - alpha) * this.#pyy + alpha * pyy);
    this.#pey = Math.min(this.#pyy, Math.max(MIN_LEAK * this.#pyy, this.#pey));
    this.#leakEstimate = this.#pey / this.#pyy;
  }

  /**
   * The step per bin. Adapted: the residual
   * echo expected in the bin (leak × the echo estimate's power there, at most half the error) over the error's
   * power, blended with the residual-to-error ratio overall, over the bin's reference power. Before: a fixed step.
   */
  #updateStep(syy: number, see: number, sey: number): void {
    const leak = this.#leakEstimate;
    let rer = (0.0001 * this.#sxx + 3 * leak * syy) / see;
    // the echo estimate's correlation with the error is echo still in it: a lower bound, over ~80 ms (over one
    // block a caller correlates with the estimate by chance, and the step would jump in double talk)
    this.#sey = CORRELATION_DECAY * this.#sey + sey;
    this.#see = CORRELATION_DECAY * this.#see + see;
    this.#syy = CORRELATION_DECAY * this.#syy + syy;
    const bound = (this.#sey * this.#sey) / (1 + this.#see * this.#syy);
    rer = Math.min(0.5, Math.max(rer, bound));
    if (!this.#adapted && this.#sumAdapt > ADAPTED_AFTER * this.partitions) this.#adapted = true;
    const bins = this.#bins;
    const reg = this.#reg;
    const c = this.#powerCorrection;
    if (this.#adapted) {
      const one = 4 * this.block * this.block;
      for (let f = 0; f < bins; f++) {
        const e = this.#er[f]! ** 2 + this.#ei[f]! ** 2 + one;
        const y = this.#sr[f]! ** 2 + this.#si[f]! ** 2;
        const r = 0.7 * Math.min(leak * y, 0.5 * e) + 0.3 * rer * e;
        this.#step[f] = r / (e * (this.#power[f]! * c + reg));
      }
      return;
    }
    let rate = 0;
    const echo = this.echoGain > 0 ? Math.min(1, this.echoGain) * this.#sxx : this.#sxx;
    if (this.#sxx > this.#floor * 10) rate = (FIRST_STEP * Math.min(echo, see)) / see;
    for (let f = 0; f < bins; f++) this.#step[f] = rate / (this.#power[f]! * c + reg);
    this.#sumAdapt += rate;
  }

  /** The background's taps += step × conj(reference) × error, per partition; then the partitions kept causal. */
  #adapt(): void {
    const bins = this.#bins;
    const m = this.partitions;
    const er = this.#er;
    const ei = this.#ei;
    for (let j = 0; j < m; j++) {
      const slot = ((this.#head - j + m) % m) * bins;
      const w = j * bins;
      const p = this.#prop[j]!;
      for (let f = 0; f < bins; f++) {
        const s = p * this.#step[f]!;
        const xr = this.#xr[slot + f]!;
        const xi = this.#xi[slot + f]!;
        // conj(x) · e
        this.#br[w + f] = this.#br[w + f]! + s * (xr * er[f]! + xi * ei[f]!);
        this.#bi[w + f] = this.#bi[w + f]! + s * (xr * ei[f]! - xi * er[f]!);
      }
    }
    // the gradient's second half is circular wrap-around: cut it (from the first partition every block, and one
    // other in turn: alternately updated MDF, the others' wrap is small and cut before it grows)
    this.#constrain(0);
    if (m > 1) this.#constrain(1 + (this.#blocks % (m - 1)));
  }

  #constrain(j: number): void {
    const bins = this.#bins;
    const time = this.#time;
    const re = this.#br.subarray(j * bins, (j + 1) * bins);
    const im = this.#bi.subarray(j * bins, (j + 1) * bins);
    this.#fft.inverse(re, im, time);
    time.fill(0, this.block);
    this.#fft.forward(time, re, im);
  }

  /** Proportionate steps: each partition's by its taps' size (plus a tenth of the largest's), summing to 0.99. */
  #updateProp(): void {
    const bins = this.#bins;
    let max = 1;
    for (let j = 0; j < this.partitions; j++) {
      let sum = 1;
      for (let f = 0; f < bins; f++) sum += this.#br[j * bins + f]! ** 2 + this.#bi[j * bins + f]! ** 2;
      this.#prop[j] = Math.sqrt(sum);
      max = Math.max(max, this.#prop[j]!);
    }
    let total = 0;
    for (let j = 0; j < this.partitions; j++) total += this.#prop[j] = this.#prop[j]! + 0.1 * max;
    for (let j = 0; j < this.partitions; j++) this.#prop[j] = (0.99 * this.#prop[j]!) / total;
  }

  /**
   * Where in the span the echo is expected to start (a tap), from the delay estimate: until the filter has adapted,
   * the partitions around it get most of the step.
   */
  expectEchoAt(tap: number): void {
    if (this.#adapted) return;
    const start = Math.min(this.partitions - 1, Math.max(0, Math.floor(tap / this.block)));
    const decay = FIRST_PROP_DECAY;
    let total = 0;
    for (let j = 0; j < this.partitions; j++) total += this.#prop[j] = 0.7 * decay ** Math.abs(j - start);
    for (let j = 0; j < this.partitions; j++) this.#prop[j] = (0.8 * this.#prop[j]!) / total;
  }

  #transform(ref: ArrayLike<number>, offset: number, slot: number): void {
    const bins = this.#bins;
    this.#fft.forward(ref, this.#sr, this.#si, offset);
    this.#xr.set(this.#sr, slot * bins);
    this.#xi.set(this.#si, slot * bins);
  }

  /** Σ_j W_j · X_(head - j), back to time: the block's echo estimate (the last N of the 2N: overlap-save). */
  #filter(wr: Float64Array, wi: Float64Array, out: Float64Array): void {
    const bins = this.#bins;
    const m = this.partitions;
    const yr = this.#er;
    const yi = this.#ei;
    yr.fill(0);
    yi.fill(0);
    for (let j = 0; j < m; j++) {
      const slot = ((this.#head - j + m) % m) * bins;
      const w = j * bins;
      for (let f = 0; f < bins; f++) {
        const ar = wr[w + f]!;
        const ai = wi[w + f]!;
        const br = this.#xr[slot + f]!;
        const bi = this.#xi[slot + f]!;
        yr[f] = yr[f]! + ar * br - ai * bi;
        yi[f] = yi[f]! + ar * bi + ai * br;
      }
    }
    this.#fft.inverse(yr, yi, this.#time);
    for (let i = 0; i < this.block; i++) out[i] = this.#time[this.block + i]!;
  }
}
