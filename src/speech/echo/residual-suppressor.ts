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
 * The frames are put back with a low-delay pair of windows: the analysis window spans the frame (bins 62.5 Hz apart,
 * to tell a voice's harmonics apart) and falls within the last hop, the synthesis window spans the last two hops only
 * (their product is a Hann window of two hops, which overlap-adds to 1): the VAD hears the audio two hops (8 ms) late,
 * not a frame (16 ms: with plain half-overlapped frames every barge-in after the greeting came 15 ms later at the
 * median). Costs: four real FFTs of a frame per hop.
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
  /** the filter's echo estimate: what it subtracted */
  filter: Float32Array;
  /** the reference at the delay times the line's echo gain (amplitude): the echo of a line with a flat response */
  line: Float32Array;
}

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
  /** the last frame's samples of the residual, the filter's estimate and the line's echo */
  readonly #residual: Float64Array;
  readonly #filter: Float64Array;
  readonly #line: Float64Array;
  #fill = 0;
  readonly #scratch: Float64Array;
  readonly #re: Float64Array;
  readonly #im: Float64Array;
  readonly #echoRe: Float64Array;
  readonly #echoIm: Float64Array;
  readonly #expected: Float64Array;
  /** per bin, decayed: the residual times the line's echo (conjugate), and the line's echo power (BIN_DECAY) */
  readonly #crossRe: Float64Array;
  readonly #crossIm: Float64Array;
  readonly #linePower: Float64Array;
  /** per bin: the echo the residual still holds, by that regression */
  readonly #left: Float64Array;
  /** overlap-add over the last two hops; its first hop is whole once a frame is in */
  readonly #sum: Float64Array;
  /** the whole hop, going out during the next one */
  readonly #ready: Float64Array;
  #readyAt = 0;

  constructor(rate: number, marginDb: number) {
    let hop = 4;
    while (hop * 2 <= (HOP_MS * rate) / 1000) hop <<= 1;
    this.#hop = hop;
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
    this.#filter = new Float64Array(size);
    this.#line = new Float64Array(size);
    this.#scratch = new Float64Array(size);
    const bins = this.#fft.bins;
    this.#re = new Float64Array(bins);
    this.#im = new Float64Array(bins);
    this.#echoRe = new Float64Array(bins);
    this.#echoIm = new Float64Array(bins);
    this.#expected = new Float64Array(bins);
    this.#crossRe = new Float64Array(bins);
    this.#crossIm = new Float64Array(bins);
    this.#linePower = new Float64Array(bins);
    this.#left = new Float64Array(bins);
    this.#sum = new Float64Array(2 * hop);
    // the first hop out is silence (the latency)
    this.#ready = new Float64Array(hop);
  }

  /**
   * `residual`: the canceller's output; `echo`: its estimates for the same samples; `share`: the residual echo it
   * leaves, as a share of the echo (1 before it cancels); `floor`: what the residual holds besides (line noise),
   * energy per sample. Returns what the VAD should hear, `latency` samples late. `idle`: nothing to compare with (no
   * echo estimate yet) and nobody listening: the frames are kept whole, but neither transformed nor measured (silence
   * comes out), which spares the FFTs on a line without echo, where the canceller never finds a delay.
   */
  process(residual: Int16Array, echo: EchoEstimate, share: number, floor: number, idle = false): Int16Array {
    const hop = this.#hop;
    const newest = this.#residual.length - hop;
    const out = new Int16Array(residual.length);
    for (let i = 0; i < residual.length; i++) {
      out[i] = toInt16(this.#ready[this.#readyAt++]!);
      this.#residual[newest + this.#fill] = residual[i]!;
      this.#filter[newest + this.#fill] = echo.filter[i]!;
      this.#line[newest + this.#fill] = echo.line[i]!;
      if (++this.#fill < hop) continue;
      this.#fill = 0;
      if (idle) {
        this.#sum.fill(0);
        this.#ready.fill(0);
      } else {
        this.#frame(share, floor);
      }
      this.#readyAt = 0;
      this.#residual.copyWithin(0, hop);
      this.#filter.copyWithin(0, hop);
      this.#line.copyWithin(0, hop);
    }
    return out;
  }

  /** One frame: the bins above the echo expected pass, overlap-added into the next hop out. */
  #frame(share: number, floor: number): void {
    const bins = this.#fft.bins;
    const expected = this.#expected;
    this.#transform(this.#filter, this.#echoRe, this.#echoIm);
    for (let k = 0; k < bins; k++) expected[k] = this.#echoRe[k]! ** 2 + this.#echoIm[k]! ** 2;
    this.#transform(this.#line, this.#echoRe, this.#echoIm);
    for (let k = 0; k < bins; k++)
      expected[k] = Math.max(expected[k]!, LINE_RESPONSE * (this.#echoRe[k]! ** 2 + this.#echoIm[k]! ** 2));
    this.#transform(this.#residual, this.#re, this.#im);
    const floorPerBin = floor * this.#windowEnergy;
    this.#measureBins();
    for (let k = 0; k < bins; k++) {
      let echo = 0;
      for (let j = Math.max(0, k - NEIGHBOURS); j <= Math.min(bins - 1, k + NEIGHBOURS); j++)
        echo = Math.max(echo, expected[j]!);
      // all or nothing: the caller reaches the VAD (and the onset cue) at their own level, the echo not at all
      const left = Math.max(share * echo, this.#left[k]!);
      if (this.#re[k]! ** 2 + this.#im[k]! ** 2 < this.#margin * (left + floorPerBin)) {
        this.#re[k] = 0;
        this.#im[k] = 0;
      }
    }
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
