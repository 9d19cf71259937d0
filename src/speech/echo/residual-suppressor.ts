import { toInt16 } from '../../media/pcm.js';
import { RealFft } from './fft.js';

/**
 * Residual echo suppression after the canceller (an AEC's "non-linear processor"), for the VAD only, bin by bin.
 *
 * What the canceller leaves of the echo is noise-like and 20-30 dB down, but it still follows the bot's words, and
 * Silero hears speech at any level. The canceller knows, sample by sample, the echo it removed, the echo the line
 * returns with a flat response (the reference at the delay times the line's echo gain: what the filter has not
 * learned yet comes back at about that level), how much of the echo it leaves (1 / ERLE, measured on loud echo) and
 * the residual's floor (line noise). The suppressor compares them in 16 ms frames every 4 ms, frequency bin by bin: a
 * bin whose residual is not `marginDb` above the echo expected to be left there (that share of the echo, or what the
 * residual is measured to hold of the line's echo in that bin, whichever is more) plus the floor is silenced (the VAD
 * would hear turned-down echo as speech); bins above it (the caller) pass, and the frames are put back together for the
 * VAD. Two voices seldom fill the same bins at once: a caller at the echo's own level passes in the bins their voice
 * fills, where a comparison of whole 10 ms blocks held them back until the filter had long converged (the share the
 * canceller measures early in a call is 3-15 dB above what its filter leaves: it still holds the blocks from before it
 * converged). See docs/barge-in.md for the bench.
 *
 * Before the canceller decides (it has not measured the line yet, or there is no echo to find), the level guard's rule
 * is applied the same way, bin by bin: a bin passes when it is `marginDb` above the most of the bot's audio in that bin
 * times the guard's echo gain at its lag, over the lags the guard expects the echo from (the whole range until it has
 * measured a delay, each at the gain assumed or the bound measured there). The guard compares whole 10 ms blocks with
 * the loudest of the bot's audio in range; a caller who talks over the greeting, before the line is measured, passes
 * in the bins the bot's recent words left empty.
 *
 * The frames are put back with a low-delay pair of windows: the analysis window spans the frame (bins 62.5 Hz apart,
 * to tell a voice's harmonics apart) and falls within the last hop, the synthesis window spans the last two hops only
 * (their product is a Hann window of two hops, which overlap-adds to 1): the VAD hears the audio two hops (8 ms) late,
 * not a frame (16 ms: with plain half-overlapped frames every barge-in after the greeting came 15 ms later at the
 * median). Costs per hop: three real FFTs of a frame (the reference, the residual, the way back), two more once the
 * canceller has a delay (its estimate and the line's echo), and the most over the reference's spectra at the guard's
 * lags while the guard's rule decides.
 */
/** the hop (4 ms: 32 samples at 8 kHz, 64 at 16 kHz) and the frame (4 hops) */
const HOP_MS = 4;
const FRAME_HOPS = 4;
/**
 * A line's response is not flat: the echo in one bin may be this much above the line's (broadband) echo gain times
 * the reference there (5 dB). Offline, over 200 greetings per line, echo got through at speech level for 20 ms or more
 * (nowhere 100 ms) in 2, 9 and 13 of them on the 20, 150 and 300 ms / 6 dB lines at 2, in 0, 5 and 11 at 3 (a first cut
 * of this suppressor: 8 ms hops, no regression per bin).
 */
const LINE_RESPONSE = 3;
/** the echo expected in a bin is the most of it and its neighbours': a window's leakage spreads a harmonic over three */
const NEIGHBOURS = 1;
/**
 * The filter cancels some bands long before others (the bot's loud low harmonics first), and the share above is the
 * whole band's: per bin, the echo still in the residual is measured as well, by regressing the residual on the line's
 * echo there (their cross-spectrum over its power, decayed by this per hop: ~130 ms). The caller does not follow the
 * bot, so talking does not raise it (only its noise, some 15 dB under the caller); a band the filter has not learned
 * does: around 2 kHz, 1.4 s into a prompt on a 150 ms / 6 dB line, 30 ms of echo came through at -40 dBFS without it
 * (test/speech/echo-alignment.test.ts).
 */
const BIN_DECAY = 0.97;

/** What the canceller expects of the echo, sample by sample (same length as the residual). */
export interface EchoEstimate {
  /** the bot's audio in step with the caller audio (lag 0): the guard's rule looks back over its spectra */
  reference: Float32Array;
  /** the filter's echo estimate: what it subtracted */
  filter: Float32Array;
  /** the reference at the delay times the line's echo gain (amplitude): the echo of a line with a flat response */
  line: Float32Array;
}

/**
 * What a frame's residual is compared with: the canceller's estimate (`share` of the echo left, the residual's `floor`
 * as energy per sample), the level guard's rule (`gains[i]`: its echo gain at lags from `i` to `i + 1` times `lagMs`;
 * 0 where it expects none), or nothing (no echo expected: everything passes).
 */
export type Expectation =
  | { by: 'canceller'; share: number; floor: number }
  | { by: 'guard'; lagMs: number; gains: Float64Array }
  | { by: 'none' };

export class ResidualSuppressor {
  /** samples of latency (two hops): the output is the input this many samples later */
  readonly latency: number;
  readonly #hop: number;
  readonly #fft: RealFft;
  readonly #analysis: Float64Array;
  /** zero but over the frame's last two hops */
  readonly #synthesis: Float64Array;
  /** Σ analysis²: a white floor of energy σ² per sample has σ² times this in each bin */
  readonly #windowEnergy: number;
  readonly #margin: number;
  readonly #hopMs: number;
  /** the last frame's samples of the residual, the reference, the filter's estimate and the line's echo */
  readonly #residual: Float64Array;
  readonly #reference: Float64Array;
  readonly #filter: Float64Array;
  readonly #line: Float64Array;
  #fill = 0;
  readonly #scratch: Float64Array;
  readonly #re: Float64Array;
  readonly #im: Float64Array;
  readonly #echoRe: Float64Array;
  readonly #echoIm: Float64Array;
  readonly #expected: Float64Array;
  readonly #scratchBins: Float64Array;
  /** per bin, decayed: the residual times the line's echo (conjugate), and the line's echo power (BIN_DECAY) */
  readonly #crossRe: Float64Array;
  readonly #crossIm: Float64Array;
  readonly #linePower: Float64Array;
  /** per bin: the echo the residual still holds, by that regression */
  readonly #left: Float64Array;
  /** the reference's power per bin, the frame ending at each hop, back to the longest lag (a ring of `#frames` rows) */
  readonly #history: Float64Array;
  readonly #frames: number;
  #historyAt = 0;
  /** overlap-add over the last two hops; its first hop is whole once a frame is in */
  readonly #sum: Float64Array;
  /** the whole hop, going out during the next one */
  readonly #ready: Float64Array;
  #readyAt = 0;

  /** `maxDelayMs`: the longest lag the guard's rule may ask about */
  constructor(rate: number, marginDb: number, maxDelayMs: number) {
    let hop = 4;
    while (hop * 2 <= (HOP_MS * rate) / 1000) hop <<= 1;
    this.#hop = hop;
    this.#hopMs = (hop * 1000) / rate;
    // a hop is whole once the frame that ends with the next one is in, and goes out during the hop after that
    this.latency = 2 * hop;
    const size = FRAME_HOPS * hop;
    this.#fft = new RealFft(size);
    // analysis: the rising half of a sqrt-Hann over all but the last hop, then the falling half of one over two hops;
    // synthesis: a Hann over the last two hops divided by it
    const rise = size - hop;
    const hann = (m: number) => Math.sin((Math.PI * m) / (2 * hop)) ** 2;
    this.#analysis = Float64Array.from({ length: size }, (_, n) =>
      n < rise ? Math.sin((Math.PI * n) / (2 * rise)) : Math.sqrt(hann(n - size + 2 * hop)),
    );
    this.#synthesis = Float64Array.from({ length: size }, (_, n) =>
      n < size - 2 * hop ? 0 : hann(n - size + 2 * hop) / this.#analysis[n]!,
    );
    this.#windowEnergy = this.#analysis.reduce((sum, w) => sum + w * w, 0);
    this.#margin = 10 ** (marginDb / 10);
    this.#residual = new Float64Array(size);
    this.#reference = new Float64Array(size);
    this.#filter = new Float64Array(size);
    this.#line = new Float64Array(size);
    this.#scratch = new Float64Array(size);
    const bins = this.#fft.bins;
    this.#re = new Float64Array(bins);
    this.#im = new Float64Array(bins);
    this.#echoRe = new Float64Array(bins);
    this.#echoIm = new Float64Array(bins);
    this.#expected = new Float64Array(bins);
    this.#scratchBins = new Float64Array(bins);
    this.#crossRe = new Float64Array(bins);
    this.#crossIm = new Float64Array(bins);
    this.#linePower = new Float64Array(bins);
    this.#left = new Float64Array(bins);
    this.#frames = Math.ceil(maxDelayMs / this.#hopMs) + 2;
    this.#history = new Float64Array(this.#frames * bins);
    this.#sum = new Float64Array(2 * hop);
    // the first hop out is silence (the latency)
    this.#ready = new Float64Array(hop);
  }

  /**
   * `residual`: the canceller's output; `echo`: its estimates for the same samples; `expected`: what to compare the
   * frames that end in this call with. `measure`: the canceller has a delay (its estimates hold something), so the
   * per-bin regression on the line's echo is kept up. Returns what the VAD should hear, `latency` samples late.
   */
  process(residual: Int16Array, echo: EchoEstimate, expected: Expectation, measure: boolean): Int16Array {
    const hop = this.#hop;
    const newest = this.#residual.length - hop;
    const out = new Int16Array(residual.length);
    for (let i = 0; i < residual.length; i++) {
      out[i] = toInt16(this.#ready[this.#readyAt++]!);
      this.#residual[newest + this.#fill] = residual[i]!;
      this.#reference[newest + this.#fill] = echo.reference[i]!;
      this.#filter[newest + this.#fill] = echo.filter[i]!;
      this.#line[newest + this.#fill] = echo.line[i]!;
      if (++this.#fill < hop) continue;
      this.#fill = 0;
      this.#frame(expected, measure);
      this.#readyAt = 0;
      this.#residual.copyWithin(0, hop);
      this.#reference.copyWithin(0, hop);
      this.#filter.copyWithin(0, hop);
      this.#line.copyWithin(0, hop);
    }
    return out;
  }

  /** One frame: the bins above the echo expected pass, overlap-added into the next hop out. */
  #frame(expected: Expectation, measure: boolean): void {
    this.#remember();
    if (measure) this.#estimate();
    this.#transform(this.#residual, this.#re, this.#im);
    if (measure) this.#measureBins();
    if (expected.by === 'canceller')
      this.#silence(expected.share, this.#expected, expected.floor * this.#windowEnergy, true);
    else if (expected.by === 'guard') this.#silence(LINE_RESPONSE, this.#mostAt(expected), 0, measure);
    const size = this.#fft.size;
    const hop = this.#hop;
    this.#fft.inverse(this.#re, this.#im, this.#scratch);
    for (let n = size - 2 * hop; n < size; n++)
      this.#sum[n - size + 2 * hop] = this.#sum[n - size + 2 * hop]! + this.#scratch[n]! * this.#synthesis[n]!;
    this.#ready.set(this.#sum.subarray(0, hop));
    this.#sum.copyWithin(0, hop);
    this.#sum.fill(0, hop);
  }

  /**
   * Silences the bins of the residual (in #re/#im) not `marginDb` above `share` times the echo expected there (`echo`,
   * per bin; the most of it and its neighbours') or, with `measured`, the echo the residual is measured to hold, plus
   * `floor`. All or nothing: the caller reaches the VAD (and the onset cue) at their own level, the echo not at all.
   */
  #silence(share: number, echo: Float64Array, floor: number, measured: boolean): void {
    const bins = this.#fft.bins;
    for (let k = 0; k < bins; k++) {
      let most = 0;
      for (let j = Math.max(0, k - NEIGHBOURS); j <= Math.min(bins - 1, k + NEIGHBOURS); j++)
        most = Math.max(most, echo[j]!);
      const left = measured ? Math.max(share * most, this.#left[k]!) : share * most;
      if (this.#re[k]! ** 2 + this.#im[k]! ** 2 < this.#margin * (left + floor)) {
        this.#re[k] = 0;
        this.#im[k] = 0;
      }
    }
  }

  /** The canceller's echo expected per bin (#expected): the filter's estimate or the line's echo × LINE_RESPONSE. */
  #estimate(): void {
    const bins = this.#fft.bins;
    const expected = this.#expected;
    this.#transform(this.#filter, this.#echoRe, this.#echoIm);
    for (let k = 0; k < bins; k++) expected[k] = this.#echoRe[k]! ** 2 + this.#echoIm[k]! ** 2;
    this.#transform(this.#line, this.#echoRe, this.#echoIm);
    for (let k = 0; k < bins; k++)
      expected[k] = Math.max(expected[k]!, LINE_RESPONSE * (this.#echoRe[k]! ** 2 + this.#echoIm[k]! ** 2));
  }

  /** The reference frame's power per bin, into the history. */
  #remember(): void {
    const bins = this.#fft.bins;
    this.#transform(this.#reference, this.#re, this.#im);
    const row = (this.#historyAt++ % this.#frames) * bins;
    for (let k = 0; k < bins; k++) this.#history[row + k] = this.#re[k]! ** 2 + this.#im[k]! ** 2;
  }

  /**
   * The most the reference held in each bin over the frames at the guard's lags, each frame times the gain at its lag
   * (the most over the lags within a hop either way: the guard's lags are whole 10 ms blocks, the frames 4 ms apart),
   * into #scratchBins.
   */
  #mostAt(rule: { lagMs: number; gains: Float64Array }): Float64Array {
    const bins = this.#fft.bins;
    const most = this.#scratchBins.fill(0);
    const { lagMs, gains } = rule;
    const newest = this.#historyAt - 1;
    for (let lag = 0; lag < this.#frames; lag++) {
      let gain = 0;
      const last = Math.min(gains.length - 1, Math.floor(((lag + 1) * this.#hopMs) / lagMs));
      for (let i = Math.max(0, Math.floor(((lag - 1) * this.#hopMs) / lagMs)); i <= last; i++)
        gain = Math.max(gain, gains[i]!);
      if (gain === 0) continue;
      const row = (((newest - lag) % this.#frames) + this.#frames) % this.#frames;
      for (let k = 0; k < bins; k++) most[k] = Math.max(most[k]!, gain * this.#history[row * bins + k]!);
    }
    return most;
  }

  /**
   * The residual regressed on the line's echo, bin by bin (its spectrum is in #echoRe/#echoIm, the residual's in
   * #re/#im): the echo left in each bin, |cross / power|² × the line's echo there now.
   */
  #measureBins(): void {
    for (let k = 0; k < this.#fft.bins; k++) {
      const xr = this.#echoRe[k]!;
      const xi = this.#echoIm[k]!;
      const line = xr * xr + xi * xi;
      this.#crossRe[k] = BIN_DECAY * this.#crossRe[k]! + this.#re[k]! * xr + this.#im[k]! * xi;
      this.#crossIm[k] = BIN_DECAY * this.#crossIm[k]! + this.#im[k]! * xr - this.#re[k]! * xi;
      const power = (this.#linePower[k] = BIN_DECAY * this.#linePower[k]! + line);
      this.#left[k] = power > 0 ? ((this.#crossRe[k]! ** 2 + this.#crossIm[k]! ** 2) / power ** 2) * line : 0;
    }
  }

  /** A frame of `samples`, windowed for analysis, to its spectrum. */
  #transform(samples: Float64Array, re: Float64Array, im: Float64Array): void {
    for (let i = 0; i < samples.length; i++) this.#scratch[i] = samples[i]! * this.#analysis[i]!;
    this.#fft.forward(this.#scratch, re, im);
  }
}
