import { toInt16 } from '../../media/pcm.js';
import { DelayEstimator, MEASURED_STRETCH_ENERGY, MIN_OCCUPANCY, MIN_STRENGTH } from './delay-estimator.js';
import { BlockFilter } from './mdf.js';
import type { EchoEstimate } from './residual-suppressor.js';

/**
 * A sample-level adaptive echo canceller (line echo: a hybrid's or a handset's), per call, at the line's rate.
 *
 * The reference is the bot's audio as it went out. The echo is the reference delayed by 20-300 ms (plus the
 * backend's jitter buffer), filtered by a short impulse response and attenuated; the canceller models it with a
 * filter of `filterMs` placed at the delay and subtracts its estimate, leaving the caller (and what the model
 * misses: μ-law noise, line noise) for the VAD.
 *
 * - **Delay**: found by `DelayEstimator` (whitened cross-correlation, every 50 ms until found, then every 250 ms),
 *   so the filter need not span the whole 0..maxDelay range (4,000 taps at 500 ms: more CPU and a slower
 *   convergence). A new delay is taken only when two estimates agree and the filter is not already cancelling;
 *   the first one at once from one estimate whose peak is certain, or from an echo that stands alone in the
 *   regression (#loneEcho).
 *   When it moves (the send and receive clocks slipped by a frame, a jitter buffer grew), the filter's taps are
 *   kept: the line has not changed, only the alignment, so it cancels again at once.
 * - **Adaptation**: a frequency-domain partitioned-block filter with a step per frequency bin (`BlockFilter`,
 *   mdf.ts: SpeexDSP's MDF method), which keeps learning, slowly, while the caller talks over the bot, and keeps a
 *   foreground copy that makes the output. A foreground that adds more than it removes (the alignment moved) is
 *   cleared rather than left to make the echo worse.
 * - Around it, per 10 ms block: whether the block is echo alone (for the convergence measured, the residual share
 *   the suppressor expects and the relock decision), and the line's echo gain from its correlation with the
 *   reference (what to expect before the filter cancels).
 */
export interface CancellerStats {
  /** delay in use, ms; null until found */
  delayMs: number | null;
  /** echo return loss enhancement over the call: caller-side energy in / out while the bot talked, dB */
  erleDb: number | null;
}

/** what the filter spans before the estimated delay: the estimate's error and a frame's jitter */
const PRE_MS = 6;
const BLOCK_MS = 10;
/** the block filter's block: 4 ms (at 8 kHz; a power of two), so a 32 ms span is 8 partitions */
const FILTER_BLOCK_MS = 4;
/** #updateCorrelationGain: safety factor, reference needed (blocks of the bot talking), decay per block */
const GAIN_SAFETY = 1.5;
const GAIN_MIN_BLOCKS = 10;
const GAIN_DECAY = 0.97;
/** the residual echo the suppressor expects: this percentile of the blocks' residual / echo over the last second */
const SHARE_PERCENTILE = 0.8;
/**
 * only blocks whose line audio is this far above the residual's floor say what share of the echo the filter leaves:
 * in quieter ones the floor (line noise) is most of the residual, and counted as echo left it made the share of
 * loud echo look 10-15 dB larger than it is (a caller 10-15 dB under the echo was held back)
 */
const SHARE_ABOVE_FLOOR = 100;
/**
 * The residual's floor (line noise): the quietest block of the last NOISE_WINDOWS × NOISE_WINDOW_BLOCKS (1.5 s), times
 * NOISE_BIAS (a noise's quietest 10 ms block is below its mean). Speech, the bot's or the caller's, pauses within that.
 */
const NOISE_WINDOW_BLOCKS = 10;
const NOISE_WINDOWS = 15;
const NOISE_BIAS = 1.5;
/** a block's weight in the convergence measured never falls below this (the echo's share of its residual) */
const MIN_ECHO_WEIGHT = 0.05;
const COMPARE_DECAY = 0.7;
/**
 * Double talk: once the filter cancels (ERLE ≥ CONVERGED_DB over the last half second of echo), a block whose
 * residual is DOUBLE_TALK_RATIO × louder than expected (the echo estimate less that ERLE, plus the line's noise
 * floor) holds something that is not echo (the caller): it and DOUBLE_TALK_HOLD_BLOCKS after do not count as echo
 * alone (the convergence measured, the residual share, the relock decision). The filter adapts regardless, at the
 * step its own residual estimate allows.
 */
const CONVERGED_DB = 10;
const DOUBLE_TALK_RATIO = 4;
/** before the filter cancels: the echo's gain is this percentile of line / reference over the last second */
const ECHO_GAIN_PERCENTILE = 0.3;
const DOUBLE_TALK_HOLD_BLOCKS = 3;
/** double talk this long without a break is taken for a changed line (or noise) instead: convergence is re-measured */
const DOUBLE_TALK_MAX_BLOCKS = 300;
/**
 * a foreground whose output is louder than its input by this much for 100 ms on end is cleared (for a moment it
 * can be, in double talk: the caller and the echo cancel each other in the line's audio now and then)
 */
const DIVERGED_RATIO = 1.25;
const DIVERGED_BLOCKS = 10;
const FIRST_ESTIMATE_EVERY_MS = 50;
/** a first delay estimate this strong is taken without a second one to agree */
const CERTAIN_STRENGTH = 16;
/**
 * A first delay from the regression instead (DelayEstimator.strongestLag): a lag that explains this much of the
 * caller window (an echo 10 dB down or louder) ...
 */
const LONE_MIN_GAIN = 0.1;
/** ... and STANDOUT times (9 dB) more than any lag further than APART_MS from it: see #loneEcho */
const LONE_STANDOUT = 8;
const LONE_APART_MS = 20;
const ESTIMATE_EVERY_MS = 250;
/** a new delay is checked every FIRST_ESTIMATE_EVERY_MS until the echo gain at it has been measured this long (blocks) */
const CHECK_BLOCKS = 50;
/** the filter's ERLE over the last estimate period below which a new delay may replace the current one, dB */
const RELOCK_BELOW_ERLE_DB = 6;
/**
 * the correlation gain at the delay must reach this share of the delay estimator's bound at any lag for the delay to
 * count as the echo's (measured at the right delay it is 1-2 times the bound, at a wrong one under a tenth)
 */
const PLACED_SHARE = 0.25;
/** reference blocks above -55 dBFS: the bot talking (the ERLE counts only those) */
const REF_ACTIVE_ENERGY = (32768 * 10 ** (-55 / 20)) ** 2;

export class EchoCanceller {
  readonly #rate: number;
  readonly #taps: number;
  readonly #pre: number;
  readonly #estimator: DelayEstimator;
  readonly #maxDelay: number;
  /** reference ring written twice (at i and i + ring) so any filter span is one contiguous slice */
  readonly #ring: Float32Array;
  readonly #ringSize: number;
  #refWritten = 0;
  #micDone = 0;
  readonly #filter: BlockFilter;
  /** the caller audio of the block filter's current block, and where in it the next sample goes */
  readonly #filterMic: Float64Array;
  #filterAt = 0;
  /** the delay moved: the block filter re-reads its reference history before its next block */
  #realign = false;
  readonly #history: Float64Array;
  /** Σx² over the filter's span, kept as it slides */
  #power = 0;
  #delay: number | null = null;
  #candidate: number | null = null;
  #sinceEstimate = 0;
  // per block (10 ms) and over two blocks
  readonly #block: number;
  #blockFill = 0;
  #blockMic = 0;
  #blockFg = 0;
  #blockRef = 0;
  /** Σ of the foreground's echo estimate², this block */
  #blockEcho = 0;
  /** this block is echo alone (false: double talk) */
  #echoOnly = true;
  #holdBlocks = 0;
  #doubleTalkRun = 0;
  /** the line's echo gain (energy), from #louderThanEcho; 0 until measured */
  #echoGain = 0;
  /** the same from the correlation with the reference (#updateCorrelationGain); 0 until measured */
  #correlationGain = 0;
  /** blocks of the bot talking that the correlation gain has been measured over (since the first delay) */
  #gainBlocks = 0;
  /** the delay estimator's bound on the echo gain at any lag (DelayEstimate.explainedGain); 0 until estimated */
  #explainedGain = 0;
  /**
   * the same, from the newest estimate (#checkPlacement's too): only the placement check reads it (the filter's step
   * keeps the estimate period's)
   */
  #newestBound = 0;
  /** Σ line × reference at the delay, Σ reference² there: this block, and decayed */
  readonly #blockDx: Float64Array;
  #blockXx = 0;
  readonly #dx: Float64Array;
  #xx = 0;
  /** line / reference energy of the last second's blocks with the bot talking (for #louderThanEcho) */
  readonly #ratios = new Float64Array(100);
  #ratioAt = 0;
  /** residual / line energy of the last second's echo-only blocks */
  readonly #shares = new Float64Array(100);
  #shareAt = 0;
  /** the echo's share of this block's residual (#echoShare): its weight in the convergence measured */
  #echoWeight = 1;
  /** blocks in a row the foreground made the line louder */
  #worseRun = 0;
  /** smoothed echo-only caller-side energy in and out, for "converged", and the floor's part of what is out */
  #convergedMic = 0;
  #convergedOut = 0;
  #convergedFloor = 0;
  /**
   * the residual's recent low per block (falls at once, rises 0.2 dB a block): what the double-talk test allows for
   * besides the echo left (#noise is the slower floor the suppressor gets)
   */
  #floor = Infinity;
  /** the quietest residual block of each of the last NOISE_WINDOWS windows, and of the current one */
  readonly #noiseMins = new Float64Array(NOISE_WINDOWS).fill(Infinity);
  #noiseMin = Infinity;
  #noiseBlocks = 0;
  /** the residual's floor (line noise) per block, over 1.5 s: the least of #noiseMins, × NOISE_BIAS */
  #noise = Infinity;
  #prevMic = 0;
  #prevFg = 0;
  // over the estimate period, for relocking
  #periodMic = 0;
  #periodOut = 0;
  // over the call, for the ERLE stat
  #callMic = 0;
  #callOut = 0;

  /** `rate`: of both streams (the caller's; the reference is resampled to it first). */
  constructor(rate: number, maxDelayMs: number, filterMs: number) {
    this.#rate = rate;
    let block = 4;
    while (block * 2 <= (FILTER_BLOCK_MS * rate) / 1000) block <<= 1;
    const partitions = Math.max(1, Math.ceil((filterMs * rate) / 1000 / block));
    this.#taps = block * partitions;
    this.#pre = Math.min(this.#taps >> 2, Math.round((PRE_MS * rate) / 1000));
    this.#maxDelay = Math.ceil((maxDelayMs * rate) / 1000);
    this.#estimator = new DelayEstimator(rate, maxDelayMs);
    let ring = 1;
    // the oldest sample read: maxDelay + taps back from the newest caller sample, plus a frame or two of lead
    while (ring < this.#maxDelay + this.#taps + rate / 5) ring <<= 1;
    this.#ringSize = ring;
    this.#ring = new Float32Array(2 * ring);
    // nothing below line noise at -60 dBFS is learned from
    this.#filter = new BlockFilter(block, partitions, rate, (32768 * 10 ** (-60 / 20)) ** 2);
    this.#filterMic = new Float64Array(block);
    this.#history = new Float64Array(this.#taps);
    // ± the delay estimate's resolution (its decimation factor)
    this.#blockDx = new Float64Array(2 * this.#estimator.factor + 1);
    this.#dx = new Float64Array(2 * this.#estimator.factor + 1);
    this.#block = Math.round((BLOCK_MS * rate) / 1000);
  }

  /**
   * The residual echo left, as a share of the echo (1 / ERLE over the last half second of echo-only audio), once
   * the filter cancels at least CONVERGED_DB; null before.
   */
  get residualShare(): number | null {
    if (!(this.#convergedOut > 0)) return null;
    if (this.#convergedOut / this.#convergedMic > 10 ** (-CONVERGED_DB / 10)) return null;
    // the echo left, without the floor (the suppressor adds that itself: residualFloor)
    const share = Math.max(0, this.#convergedOut - this.#convergedFloor) / this.#convergedMic;
    // what the filter leaves varies block by block (it misses most at a new sound): a high percentile, not the mean
    const n = Math.min(this.#shareAt, this.#shares.length);
    if (n < 10) return share;
    const sorted = this.#shares.slice(0, n).sort();
    return Math.max(share, sorted[Math.floor(n * SHARE_PERCENTILE)]!);
  }

  /**
   * The residual's floor, energy per sample: what is left where there is no echo to leave (line noise, μ-law noise of
   * quiet audio). The echo the residual holds is residualShare × the echo, on top of this.
   */
  get residualFloor(): number {
    return Number.isFinite(this.#noise) ? this.#noise / this.#block : 0;
  }

  /**
   * The delay is found and the line's echo gain measured there: the expected echo (`process`'s `echo`) means
   * something. Not while the echo the delay explains is well below what the reference explains at some lag: the
   * delay is wrong (a first estimate on periodic audio), and the echo expected from it would let the echo through.
   */
  get measured(): boolean {
    return this.#delay !== null && this.#correlationGain > 0 && this.#placed;
  }

  /** The correlation gain at the delay is the echo's: at least PLACED_SHARE of what the reference explains anywhere. */
  get #placed(): boolean {
    return this.#correlationGain >= PLACED_SHARE * this.#newestBound;
  }

  /**
   * The delay is taken for a wrong one: its echo gain, measured, is far below what the reference explains at some
   * lag. A new one is then looked for every 50 ms, and taken even where the filter cancels some of the echo from the
   * wrong place (its span may reach the echo): a first delay a pitch period off the echo's, taken on a voiced onset,
   * held for 0.5 s and kept the canceller from converging until the caller had long been talking.
   */
  get #misplaced(): boolean {
    return this.#delay !== null && this.#gainBlocks >= GAIN_MIN_BLOCKS && !this.#placed;
  }

  /** A delay has been found: the echo estimates (`process`'s `echo`) hold something. */
  get located(): boolean {
    return this.#delay !== null;
  }

  get stats(): CancellerStats {
    return {
      delayMs: this.#delay === null ? null : Math.round((this.#delay * 1000) / this.#rate),
      erleDb: this.#callOut > 0 && this.#callMic > 0 ? round1(10 * Math.log10(this.#callMic / this.#callOut)) : null,
    };
  }

  /** The bot's audio as it went out, in order, at the caller's rate. */
  reference(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i++) this.#pushRef(pcm[i]!);
  }

  /**
   * Caller audio in, the residual (echo removed) out, same length. `echo`, when given (as long as `mic`), receives
   * what the canceller expects of the echo in each sample (what the residual echo suppression after it compares the
   * residual with): the reference in step with the caller audio, the filter's estimate, and the reference at the delay
   * times the line's echo gain (the filter knows the line only where the bot's audio has had energy so far: a new
   * sound, a tone's onset, a new voice can come back where it has learned nothing). The last two are 0 until a delay
   * is found.
   */
  process(mic: Int16Array, echo?: EchoEstimate): Int16Array {
    // the bot's silence sends no reference: keep its clock up with the caller's (to the end of this frame)
    while (this.#refWritten < this.#micDone + mic.length) this.#pushRef(0);
    const out = new Int16Array(mic.length);
    const lineGain = Math.sqrt(this.#correlationGain);
    for (let i = 0; i < mic.length; i++) {
      const t = this.#micDone;
      const d = mic[i]!;
      const x = this.#ring[(t & (this.#ringSize - 1)) + this.#ringSize]!;
      this.#estimator.push(d, x);
      const cancelled = this.#delay === null ? d : this.#cancel(t, d);
      // a filter that made the last block louder does not get to make this one louder too
      const e = this.#worseRun > 0 ? d : cancelled;
      if (echo) {
        echo.reference[i] = x;
        echo.filter[i] = d - e;
        echo.line[i] = this.#delay === null ? 0 : lineGain * this.#ring[(t - this.#delay) & (this.#ringSize - 1)]!;
      }
      out[i] = toInt16(e);
      this.#account(d, e, x);
      this.#micDone++;
    }
    return out;
  }

  #pushRef(s: number): void {
    const at = this.#refWritten & (this.#ringSize - 1);
    this.#ring[at] = s;
    this.#ring[at + this.#ringSize] = s;
    this.#refWritten++;
  }

  /**
   * Newest reference index the filter reads for caller sample `t` (the others are the `taps - 1` before it): PRE
   * before the delay, and never within a filter block of `t`, since a block's echo estimate is computed at its start
   * and the reference is known only up to the caller audio (a delay under 10 ms loses the response's first ms).
   */
  #newest(t: number): number {
    return t - Math.max(this.#delay! - this.#pre, this.#filter.block - 1);
  }

  /** One caller sample through the filter; returns the foreground's residual. */
  #cancel(t: number, d: number): number {
    const ring = this.#ring;
    const taps = this.#taps;
    const mask = this.#ringSize - 1;
    const newest = this.#newest(t);
    const filter = this.#filter;
    if (this.#filterAt === 0) this.#beginFilterBlock(newest);
    const incoming = ring[(newest & mask) + this.#ringSize]!;
    const outgoing = ring[((newest - taps) & mask) + this.#ringSize]!;
    this.#power = Math.max(0, this.#power + incoming * incoming - outgoing * outgoing);
    // the line's correlation with the reference at the delay and the lags the estimate may be off by
    const at = t - this.#delay!;
    const main = ring[at & mask]!;
    this.#blockXx += main * main;
    const near = this.#blockDx.length >> 1;
    for (let k = -near; k <= near; k++) this.#blockDx[k + near] = this.#blockDx[k + near]! + d * ring[(at - k) & mask]!;
    const y = filter.echo[this.#filterAt]!;
    this.#filterMic[this.#filterAt] = d;
    if (++this.#filterAt === filter.block) {
      filter.end(this.#filterMic);
      this.#filterAt = 0;
    }
    const e = d - y;
    this.#blockFg += e * e;
    this.#blockEcho += y * y;
    return e;
  }

  /** The block filter's next block, whose first sample reads reference up to `newest`. */
  #beginFilterBlock(newest: number): void {
    const n = this.#filter.block;
    const mask = this.#ringSize - 1;
    // the window: the block before (its oldest taps' reference) and this one: newest - n .. newest + n - 1
    const start = newest - n;
    if (this.#realign) {
      this.#realign = false;
      const from = start - this.#taps + n;
      for (let k = 0; k < this.#taps; k++) this.#history[k] = this.#ring[((from + k) & mask) + this.#ringSize]!;
      this.#filter.realign(this.#history);
    }
    this.#filter.begin(this.#ring, start & mask);
  }

  /** Per-sample bookkeeping; at each block's end the two-path decision, and at each period a delay estimate. */
  #account(d: number, e: number, x: number): void {
    this.#blockMic += d * d;
    this.#blockRef += x * x;
    if (this.#delay === null) this.#blockFg += e * e;
    if (++this.#blockFill < this.#block) return;
    this.#trackNoise(this.#blockFg);
    // the two-path comparison over ~40 ms (this block and a decaying past)
    const mic = (this.#prevMic = COMPARE_DECAY * this.#prevMic + this.#blockMic);
    const fg = (this.#prevFg = COMPARE_DECAY * this.#prevFg + this.#blockFg);
    if (this.#delay !== null) {
      this.#detectDoubleTalk();
      this.#updateCorrelationGain();
      this.#worseRun = fg > DIVERGED_RATIO * mic ? this.#worseRun + 1 : 0;
      if (this.#worseRun >= DIVERGED_BLOCKS) {
        this.#filter.clearForeground();
        // the echo estimate is gone: residual above it is no sign of double talk until the filter cancels again
        this.#restartConvergence();
      }
    }
    if (this.#blockRef / this.#block >= REF_ACTIVE_ENERGY) {
      this.#callMic += this.#blockMic;
      this.#callOut += this.#blockFg;
      // (double talk says nothing about whether the filter cancels: the caller is no echo to remove)
      if (this.#echoOnly) {
        this.#periodMic += this.#blockMic;
        this.#periodOut += this.#blockFg;
      }
    }
    this.#blockMic = this.#blockFg = this.#blockRef = this.#blockEcho = 0;
    this.#blockFill = 0;
    this.#sinceEstimate += BLOCK_MS;
    const searching = this.#delay === null || this.#misplaced;
    if (this.#sinceEstimate >= (searching ? FIRST_ESTIMATE_EVERY_MS : ESTIMATE_EVERY_MS)) {
      this.#sinceEstimate = 0;
      this.#relock();
    } else if (this.#gainBlocks < CHECK_BLOCKS && this.#sinceEstimate % FIRST_ESTIMATE_EVERY_MS === 0) {
      this.#checkPlacement();
    }
  }

  /**
   * Double talk before the filter cancels (it cannot tell echo from caller yet): the line is louder than the echo
   * this line returns, i.e. its gain (a low percentile of line / reference energy over the last second: blocks with
   * the caller in them are the high ones) times the reference in the filter's span. Catches the caller where they
   * are clearly above the echo, which is where they would throw the filter off most.
   */
  #louderThanEcho(): boolean {
    const refPerSample = this.#power / this.#taps;
    if (refPerSample < REF_ACTIVE_ENERGY) return false;
    const ratio = this.#blockMic / this.#block / refPerSample;
    this.#ratios[this.#ratioAt++ % this.#ratios.length] = ratio;
    const filled = Math.min(this.#ratioAt, this.#ratios.length);
    if (filled < 20) return false;
    const sorted = this.#ratios.slice(0, filled).sort();
    this.#echoGain = sorted[Math.floor(filled * ECHO_GAIN_PERCENTILE)]!;
    return ratio > DOUBLE_TALK_RATIO * this.#echoGain;
  }

  /**
   * The line's echo gain from the correlation of the line with the reference at the delay: the caller does not
   * correlate with the bot, so a caller talking from the start does not inflate it (as they do any level ratio).
   * The strongest correlation within the delay estimate's resolution, squared, times GAIN_SAFETY for the rest of a
   * short response; decayed over ~0.3 s.
   */
  #updateCorrelationGain(): void {
    let peak = 0;
    for (let k = 0; k < this.#dx.length; k++) {
      this.#dx[k] = GAIN_DECAY * this.#dx[k]! + this.#blockDx[k]!;
      peak = Math.max(peak, Math.abs(this.#dx[k]!));
    }
    this.#blockDx.fill(0);
    if (this.#blockXx / this.#block >= REF_ACTIVE_ENERGY) this.#gainBlocks++;
    this.#xx = GAIN_DECAY * this.#xx + this.#blockXx;
    this.#blockXx = 0;
    // over GAIN_MIN_BLOCKS of the bot talking, not their energy's worth: a loud first syllable filled that in one
    // block, and a gain measured on it let the first echo through (10-50 ms of it at the fast cue's level)
    if (this.#gainBlocks >= GAIN_MIN_BLOCKS && this.#xx >= GAIN_MIN_BLOCKS * this.#block * REF_ACTIVE_ENERGY) {
      this.#correlationGain = GAIN_SAFETY * (peak / this.#xx) ** 2;
      this.#filter.echoGain = Math.max(this.#correlationGain, this.#explainedGain);
    }
  }

  /** From this block's energies: is the caller talking over the echo (then the block is not echo alone)? */
  #detectDoubleTalk(): void {
    const converged =
      this.#convergedOut > 0 && 10 * Math.log10(this.#convergedMic / this.#convergedOut) >= CONVERGED_DB;
    const expected = converged ? this.#echoLeftConverged() : Infinity;
    const doubleTalk = this.#blockFg > DOUBLE_TALK_RATIO * expected || this.#louderThanEcho();
    // (not from double talk: a caller's speech is no floor)
    if (!doubleTalk) this.#floor = Math.min(this.#blockFg, this.#floor * 1.047);
    if (doubleTalk && ++this.#doubleTalkRun < DOUBLE_TALK_MAX_BLOCKS) {
      this.#holdBlocks = DOUBLE_TALK_HOLD_BLOCKS;
    } else if (!doubleTalk) {
      this.#doubleTalkRun = 0;
    } else {
      // that long is not a caller: the line changed under the filter; start measuring convergence again
      this.#restartConvergence();
      this.#doubleTalkRun = 0;
    }
    this.#echoOnly = this.#holdBlocks === 0;
    this.#filter.holdForeground = converged && !this.#echoOnly;
    if (this.#holdBlocks > 0) this.#holdBlocks--;
    this.#echoWeight = this.#echoShare(converged);
    // convergence is measured on echo-only blocks (the bot talking, no double talk; blocks with some of the caller
    // in them count less): over about half a second
    if (this.#echoOnly && this.#blockRef / this.#block >= REF_ACTIVE_ENERGY) {
      const floor = Math.min(this.#noise, this.#blockFg);
      this.#convergedMic = 0.95 * this.#convergedMic + this.#echoWeight * this.#blockMic;
      this.#convergedOut = 0.95 * this.#convergedOut + this.#echoWeight * this.#blockFg;
      this.#convergedFloor = 0.95 * this.#convergedFloor + this.#echoWeight * floor;
      // the share left in blocks of strong echo, echo alone (for the suppressor's percentile), less the floor
      if (this.#echoWeight > 0.9 && this.#blockMic > 0 && this.#blockMic > SHARE_ABOVE_FLOOR * this.#noise)
        this.#shares[this.#shareAt++ % this.#shares.length] = (this.#blockFg - floor) / this.#blockMic;
    }
  }

  /** Convergence is measured anew (the alignment moved, the foreground was cleared, or the line changed). */
  #restartConvergence(): void {
    this.#convergedMic = this.#convergedOut = this.#convergedFloor = 0;
  }

  /** Minimum statistics of the residual's block energy: the floor it never goes below for long (#noise). */
  #trackNoise(energy: number): void {
    this.#noiseMin = Math.min(this.#noiseMin, energy);
    if (++this.#noiseBlocks % NOISE_WINDOW_BLOCKS !== 0) return;
    this.#noiseMins[(this.#noiseBlocks / NOISE_WINDOW_BLOCKS) % NOISE_WINDOWS] = this.#noiseMin;
    this.#noiseMin = Infinity;
    let least = Infinity;
    for (const m of this.#noiseMins) least = Math.min(least, m);
    this.#noise = NOISE_BIAS * least;
  }

  /** The echo this block's residual holds once the filter cancels: its estimate less the ERLE, plus the noise floor. */
  #echoLeftConverged(): number {
    return (this.#blockEcho * this.#convergedOut) / this.#convergedMic + Math.min(this.#floor, this.#blockFg);
  }

  /**
   * The share of this block's residual that is echo: the filter's estimate less its ERLE once it cancels, and at
   * most the whole echo before (the line's echo gain times the reference). A caller at the echo's level halves it.
   */
  #echoShare(converged: boolean): number {
    if (!(this.#blockFg > 0)) return 1;
    const echoLeft = converged
      ? this.#echoLeftConverged()
      : this.#echoGain > 0
        ? this.#echoGain * (this.#power / this.#taps) * this.#block
        : this.#blockFg;
    return Math.max(MIN_ECHO_WEIGHT, Math.min(1, echoLeft / this.#blockFg));
  }

  /**
   * A new delay is checked against the echo the reference explains every 50 ms, not only at the next estimate: a
   * first delay taken on a quiet stretch (the bound on the echo there tiny) looked placed, and when the loud echo came
   * the expected echo at a wrong delay was far below it (a 6 dB echo passed for 140 ms on the 150 ms line).
   */
  #checkPlacement(): void {
    this.#newestBound = this.#estimator.estimate(true)?.explainedGain ?? this.#newestBound;
  }

  /**
   * A fresh delay estimate; adopted when two agree and the filter is not cancelling at the current one. Only from a
   * reference that fills the band (DelayEstimate.occupancy): a wrong delay is worse than none, the guard covers.
   */
  #relock(): void {
    // a period of double talk or silence only: nothing to go on, keep the delay
    const unknown = this.#delay !== null && !(this.#periodOut > 0);
    const cancelling =
      this.#periodOut > 0 && 10 * Math.log10(this.#periodMic / this.#periodOut) >= RELOCK_BELOW_ERLE_DB;
    this.#periodMic = this.#periodOut = 0;
    const found = this.#estimator.estimate(true);
    // the most echo the reference explains at any lag: what the filter's first steps may assume even where the
    // delay (and so the correlation gain at it) is wrong
    this.#explainedGain = found?.explainedGain ?? this.#explainedGain;
    this.#newestBound = this.#explainedGain;
    if (unknown) return;
    if (this.#delay === null && found !== null && found.occupancy >= MIN_OCCUPANCY && this.#loneEcho()) return;
    const candidate = this.#candidate;
    // a periodic reference (a tone, a beep) matches its echo at many lags: no delay from it, neither a first one
    // (the guard covers until speech comes) nor a move away from one found on speech (which still holds)
    const sure = found !== null && found.strength >= MIN_STRENGTH && found.occupancy >= MIN_OCCUPANCY;
    this.#candidate = sure ? found.delay : null;
    if (this.#candidate === null) return;
    // the first delay at once when the peak leaves no doubt; otherwise (and any change) when two agree
    const certain = this.#delay === null && found!.strength >= CERTAIN_STRENGTH;
    if (!certain && (candidate === null || Math.abs(this.#candidate - candidate) > this.#estimator.factor)) return;
    if (
      this.#delay !== null &&
      ((cancelling && !this.#misplaced) || Math.abs(this.#candidate - this.#delay) <= this.#estimator.factor)
    )
      return;
    this.#moveTo(Math.min(this.#maxDelay, this.#candidate));
  }

  /**
   * The first delay from an echo that stands alone in the regression: taken at once if one lag explains LONE_MIN_GAIN
   * of the caller window and LONE_STANDOUT times more than any lag LONE_APART_MS away (the delay is the whitened
   * correlation's peak within LONE_APART_MS of it, to the sample: DelayEstimator.strongestLag). The whitened peak
   * needs the echo to fill the band against the caller's speech: a caller who starts talking just as a strong echo
   * first comes back (a 6 dB line, 300 ms) drops it to 5-8 (MIN_STRENGTH 8, CERTAIN_STRENGTH 16, and two estimates
   * must agree), and it was found 0.3-0.4 s into the double talk, then the filter still had to converge: that caller
   * was heard 0.4-0.9 s after their onset. The regression shows the echo 6-7 dB down at its lag 50 ms after the
   * caller's onset, 14 dB over any other lag; a caller's speech alone spreads its chance correlation over the lags
   * (on the bench's line without echo, 3 of about 20,000 estimates passed: docs/barge-in.md), and an echo weaker than
   * LONE_MIN_GAIN is left to the whitened peak (a caller can talk over it with the guard alone).
   */
  #loneEcho(): boolean {
    const lone = this.#estimator.strongestLag(MEASURED_STRETCH_ENERGY, (LONE_APART_MS * this.#rate) / 1000);
    if (!lone || lone.gain < LONE_MIN_GAIN || lone.gain < LONE_STANDOUT * lone.rest) return false;
    this.#candidate = lone.delay;
    this.#moveTo(Math.min(this.#maxDelay, lone.delay));
    return true;
  }

  /**
   * Re-place the filter at `delay`. The taps stay as they are: they model the line's response relative to the
   * delay, and a clock slip moves the whole echo (so the filter cancels again at once); a line that really changed
   * is re-learned, from the start (convergence is measured anew, so double talk is not assumed meanwhile).
   */
  #moveTo(delay: number): void {
    this.#delay = delay;
    this.#realign = true;
    // the echo starts where the delay says, in the span (the partition the filter learns first)
    this.#filter.expectEchoAt(delay - (this.#micDone - this.#newest(this.#micDone)));
    this.#restartConvergence();
    // the correlation sums are the old place's lags, and what the filter left of the echo there is not what it
    // leaves at the new one: both are measured afresh (stale, they held the canceller misplaced for 0.4 s after the
    // move, and then its residual share at 0.46, so that a caller at the echo's level was held back, 0.5 s late)
    this.#dx.fill(0);
    this.#xx = 0;
    this.#gainBlocks = 0;
    this.#correlationGain = 0;
    this.#shareAt = 0;
    // the span's power, from scratch at the new place, as the next caller sample will slide it
    const newest = this.#newest(this.#micDone + 1);
    this.#power = 0;
    for (let k = 1; k <= this.#taps; k++) {
      const x = this.#ring[((newest - k) & (this.#ringSize - 1)) + this.#ringSize]!;
      this.#power += x * x;
    }
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;
