import { fft } from './fft.js';

/**
 * Finds the echo delay for the canceller: where the caller audio best matches the bot's reference, to a sample or
 * two.
 *
 * Both streams are decimated to 2 kHz (averages of a few samples: the delay needs timing, not bandwidth) and, every
 * call to `estimate()`, the last 0.5 s of caller audio is cross-correlated with the reference over lags
 * 0..maxDelay in the frequency domain with PHAT weighting (each frequency counts by its phase only). Speech has a
 * broad, pitch-periodic autocorrelation, so a plain correlation's peak is wide and has side peaks a pitch period
 * away; whitened, the peak is one or two samples wide and stands far above the rest when there is echo at all,
 * and the μ-law hop or the line's filtering (a gain per frequency) do not move it. The caller talking over the
 * bot only lowers the peak (their speech does not correlate with the reference).
 *
 * Whitening needs a reference that fills the band. A periodic one (a tone, hold beeps, a dial tone, a sung vowel: a
 * few spectral lines) matches its own echo at every period, and whitened, the bins between its lines (the window's
 * leakage, μ-law and line noise, which do not follow the echo) weigh as much as the lines: the peak lands anywhere
 * (measured: 0, 120, 250, 500 ms on a 170 ms line, strength 8-30, so no threshold on the peak tells). `occupancy`
 * says how much of the band holds the reference's energy, over the whole span and over the stretch whose echo the
 * caller window holds if `delay` is right (the bot may have just gone from a tone to speech: the span then fills
 * the band, but what the caller window is matched against is still the tone); an estimate from too little of it
 * is no delay.
 */
export interface DelayEstimate {
  /** reference samples (at the canceller's rate) between the bot's audio and its echo */
  delay: number;
  /** the peak over the correlation's RMS: ≥ MIN_STRENGTH counts as echo */
  strength: number;
  /**
   * The most echo the reference explains (energy gain): the largest squared regression coefficient of caller audio
   * on the reference at any lag in range, before whitening. An echo of gain g puts √g at its lag; the caller's speech
   * does not correlate with the bot's and only adds the correlation's noise, which makes this larger, never smaller:
   * a bound, tight when the line carries the echo alone. Null unless asked for (it costs an inverse FFT).
   */
  explainedGain: number | null;
  /**
   * The share of the band (0..1 kHz, FFT bins) that holds 99 % of the reference's energy, the lesser of: over the
   * span, and over the stretch matched with the caller window at `delay`. Periodic sound 0-0.2, speech mostly
   * 0.3-0.9 (see MIN_OCCUPANCY). Below MIN_OCCUPANCY the reference is a few spectral lines and `delay` is one of many
   * lags that match about equally well.
   */
  occupancy: number;
}

const DECIMATED_RATE = 2000;
const WINDOW_MS = 500;
/** a peak this many times the correlation's RMS is an echo; noise alone peaks at 3-4 over 1,000 lags */
export const MIN_STRENGTH = 8;
/**
 * A reference holding 99 % of its energy in less than this share of the band is periodic: its delay is ambiguous.
 * Measured on the simulated line (20/100/170/300 ms, 6 dB, μ-law, -60 dBFS noise), an estimate every 50 ms over
 * 2-6 s: steady tones (300, 440, 1000 Hz, a dial tone), tones with a cadence (busy, US and UK ringing, 425 Hz beeps,
 * 300 Hz 1 s / 1 s, DTMF digits) and a sung vowel (220 Hz, 12 harmonics, vibrato) 0-0.205, every wrong estimate
 * among them (6 in 10) 0.145 or less; eleven voices 0.3-0.88, but for the first 0.2 s of estimates of one voice that
 * starts on a held voiced sound (0.1-0.125: it locks 0.2-0.4 s later than before; the bench's six prompt voices
 * lock exactly as before). Over 288 runs of those periodic sounds alone, then speech, or after speech, the canceller
 * took no wrong delay (before: 98); from the span alone (no stretch), 4 runs of a tone then speech still did.
 */
export const MIN_OCCUPANCY = 0.2;
const OCCUPIED_ENERGY = 0.99;
/**
 * A lag's regression (explainedAt, strongestLag) says something once the stretch of reference it is matched against
 * holds this much energy (as much as 50 ms at -20 dBFS, in the estimator's 2 kHz samples): over less, the
 * coefficient's noise (the caller, the line) can be as large as a 6 dB echo's, and cancel it out as well as add to it.
 */
export const MEASURED_STRETCH_ENERGY = 100 * (32768 * 10 ** (-20 / 20)) ** 2;
/** the reference must be this loud over the window (-50 dBFS) to say anything about the delay */
const REF_ACTIVE_ENERGY = (32768 * 10 ** (-50 / 20)) ** 2;

export class DelayEstimator {
  /** full-rate samples per decimated one */
  readonly factor: number;
  readonly #window: number;
  readonly #maxLag: number;
  readonly #size: number;
  readonly #mic: Float32Array;
  readonly #ref: Float32Array;
  readonly #mask: number;
  #written = 0;
  #micSum = 0;
  #refSum = 0;
  #fill = 0;
  // FFT scratch, allocated once per call
  readonly #mr: Float64Array;
  readonly #mi: Float64Array;
  readonly #rr: Float64Array;
  readonly #ri: Float64Array;
  /** #xr holds the newest estimate's raw correlation (explainedAt reads it) */
  #correlated = false;
  /** the raw (unwhitened) cross-correlation, and the reference's running energy over the span */
  readonly #xr: Float64Array;
  readonly #xi: Float64Array;
  readonly #refCumulative: Float64Array;
  /** the reference's power per bin (0..n/2, the band up to the decimated rate's Nyquist), for its occupancy */
  readonly #refPower: Float64Array;
  /** the reference stretch matched at the best lag, transformed (for its occupancy) */
  readonly #sr: Float64Array;
  readonly #si: Float64Array;

  constructor(rate: number, maxDelayMs: number) {
    this.factor = Math.max(1, Math.round(rate / DECIMATED_RATE));
    const decimated = rate / this.factor;
    this.#window = Math.round((WINDOW_MS * decimated) / 1000);
    this.#maxLag = Math.ceil((maxDelayMs * decimated) / 1000);
    let size = 1;
    while (size < this.#window + this.#maxLag) size <<= 1;
    this.#size = size;
    this.#mic = new Float32Array(size);
    this.#ref = new Float32Array(size);
    this.#mask = size - 1;
    this.#mr = new Float64Array(size);
    this.#mi = new Float64Array(size);
    this.#rr = new Float64Array(size);
    this.#ri = new Float64Array(size);
    this.#xr = new Float64Array(size);
    this.#xi = new Float64Array(size);
    this.#refCumulative = new Float64Array(size + 1);
    this.#refPower = new Float64Array((size >> 1) + 1);
    this.#sr = new Float64Array(size);
    this.#si = new Float64Array(size);
  }

  /** One caller sample and the reference sample at the same index (the canceller's alignment). */
  push(mic: number, ref: number): void {
    this.#micSum += mic;
    this.#refSum += ref;
    if (++this.#fill < this.factor) return;
    const at = this.#written++ & this.#mask;
    this.#mic[at] = this.#micSum / this.factor;
    this.#ref[at] = this.#refSum / this.factor;
    this.#micSum = 0;
    this.#refSum = 0;
    this.#fill = 0;
  }

  /** The delay over the last 0.5 s; null while too little has been heard or the bot was silent. */
  estimate(withExplainedGain = false): DelayEstimate | null {
    this.#correlated = false;
    // from the first 0.25 s on: before the call's start both rings hold zeros, which correlate with nothing
    if (this.#written < this.#window / 2) return null;
    const span = this.#window + this.#maxLag;
    const n = this.#size;
    const first = this.#written - span;
    let refEnergy = 0;
    for (let j = 0; j < span; j++) {
      const r = this.#ref[(first + j) & this.#mask]!;
      this.#rr[j] = r;
      refEnergy += r * r;
      this.#refCumulative[j + 1] = refEnergy;
    }
    if (refEnergy / Math.min(span, this.#written) < REF_ACTIVE_ENERGY) return null;
    this.#rr.fill(0, span);
    this.#ri.fill(0);
    // the caller window is the newest `window` samples; the reference reaches maxLag further back
    this.#mr.fill(0);
    this.#mi.fill(0);
    for (let j = 0; j < this.#window; j++) this.#mr[j] = this.#mic[(first + this.#maxLag + j) & this.#mask]!;
    fft(this.#mr, this.#mi);
    fft(this.#rr, this.#ri);
    const spanOccupancy = this.#occupancy(this.#rr, this.#ri);
    // conj(M)·R, whitened: c[k] = Σ m[j]·r[j+k], so lag = maxLag - k
    let meanMag = 0;
    for (let f = 0; f < n; f++) {
      const re = this.#mr[f]! * this.#rr[f]! + this.#mi[f]! * this.#ri[f]!;
      const im = this.#mr[f]! * this.#ri[f]! - this.#mi[f]! * this.#rr[f]!;
      this.#mr[f] = re;
      this.#mi[f] = im;
      meanMag += Math.hypot(re, im);
    }
    const explainedGain = withExplainedGain ? this.#explainedGain(span, refEnergy) : null;
    // a floor on the weight: bins with (almost) nothing in them must not count as much as the speech's
    const floor = (meanMag / n) * 1e-2 + 1e-9;
    for (let f = 0; f < n; f++) {
      const w = 1 / (Math.hypot(this.#mr[f]!, this.#mi[f]!) + floor);
      this.#mr[f] = this.#mr[f]! * w;
      this.#mi[f] = this.#mi[f]! * w;
    }
    fft(this.#mr, this.#mi, true);
    let best = -Infinity;
    let bestK = 0;
    let sumSq = 0;
    for (let k = 0; k <= this.#maxLag; k++) {
      const c = this.#mr[k]!;
      sumSq += c * c;
      if (c > best) {
        best = c;
        bestK = k;
      }
    }
    const rms = Math.sqrt(sumSq / (this.#maxLag + 1));
    if (!(rms > 0)) return null;
    const delay = (this.#maxLag - bestK) * this.factor;
    // (a span already too narrow is enough: the stretch's FFT is spared)
    const occupancy =
      spanOccupancy < MIN_OCCUPANCY ? spanOccupancy : Math.min(spanOccupancy, this.#stretchOccupancy(first + bestK));
    return { delay, strength: best / rms, explainedGain, occupancy };
  }

  /** The occupancy of the reference stretch whose echo the caller window holds if the delay is right. */
  #stretchOccupancy(from: number): number {
    this.#sr.fill(0);
    this.#si.fill(0);
    for (let j = 0; j < this.#window; j++) this.#sr[j] = this.#ref[(from + j) & this.#mask]!;
    fft(this.#sr, this.#si);
    return this.#occupancy(this.#sr, this.#si);
  }

  /** The share of the band that holds OCCUPIED_ENERGY of a spectrum's energy (see DelayEstimate.occupancy). */
  #occupancy(re: Float64Array, im: Float64Array): number {
    const power = this.#refPower;
    let total = 0;
    for (let f = 0; f < power.length; f++) {
      power[f] = re[f]! ** 2 + im[f]! ** 2;
      total += power[f]!;
    }
    power.sort();
    let held = 0;
    let bins = 0;
    for (let f = power.length - 1; f >= 0 && held < OCCUPIED_ENERGY * total; f--, bins++) held += power[f]!;
    return bins / power.length;
  }

  /**
   * The newest estimate's explained gain (it must have been asked for) at the delays `from..to` (full-rate samples)
   * alone, each over its own reference stretch's energy (no floor): where the bot has only begun to fill that stretch
   * the figure is noisy and large, never small in expectation, so it bounds the echo at those delays from the bot's
   * first words on (explainedGain waits for the whole range). Infinity where a stretch holds no more than `minEnergy`
   * (a sum of squared 2 kHz samples; 0: where it is silent), and without such an estimate.
   */
  explainedAt(from: number, to: number, minEnergy = 0): number {
    if (!this.#correlated) return Infinity;
    let most = 0;
    const last = Math.min(this.#maxLag, Math.ceil(to / this.factor));
    for (let lag = Math.max(0, Math.floor(from / this.factor)); lag <= last; lag++) {
      const k = this.#maxLag - lag;
      const energy = this.#stretchEnergy(k);
      if (!(energy > minEnergy)) return Infinity;
      most = Math.max(most, this.#xr[k]! ** 2 / energy ** 2);
    }
    return most;
  }

  /**
   * Where the newest estimate's regression of its caller window on the reference explains the most: that gain (a
   * positive coefficient: the echo is the reference, not its negative), the most any lag further than `apart` samples
   * from that lag explains, either sign (`rest`), and the delay (full-rate samples) where the whitened correlation
   * peaks within `apart` of it. Null without an estimate that asked for the explained gain, or if no lag's stretch
   * holds more than `minEnergy` (see explainedAt). A strong echo puts √gain at its lag and little anywhere else; a
   * caller's speech spreads its chance correlation over the lags.
   */
  strongestLag(minEnergy: number, apart: number): { delay: number; gain: number; rest: number } | null {
    if (!this.#correlated) return null;
    /** the gain at `lag`, negative where the coefficient is */
    const gainAt = (lag: number): number => {
      const k = this.#maxLag - lag;
      const energy = this.#stretchEnergy(k);
      return energy > minEnergy ? (Math.sign(this.#xr[k]!) * this.#xr[k]! ** 2) / energy ** 2 : 0;
    };
    let gain = 0;
    let best = -1;
    for (let lag = 0; lag <= this.#maxLag; lag++) {
      const g = gainAt(lag);
      if (g > gain) {
        gain = g;
        best = lag;
      }
    }
    if (best < 0) return null;
    const near = Math.ceil(apart / this.factor);
    let rest = 0;
    // the delay itself from the whitened correlation (#mr) near that lag: speech's own correlation is broad, and the
    // regression's best lag was 9 ms (a pitch period) off the echo's in two cases of echo-periodic.test.ts
    let delay = best;
    for (let lag = 0; lag <= this.#maxLag; lag++) {
      if (Math.abs(lag - best) > near) rest = Math.max(rest, Math.abs(gainAt(lag)));
      else if (this.#mr[this.#maxLag - lag]! > this.#mr[this.#maxLag - delay]!) delay = lag;
    }
    return { delay: delay * this.factor, gain, rest };
  }

  /** The reference's energy over the stretch the caller window is matched against at correlation index `k`. */
  #stretchEnergy(k: number): number {
    return this.#refCumulative[k + this.#window]! - this.#refCumulative[k]!;
  }

  /** From the cross-spectrum in #mr/#mi (before whitening): see DelayEstimate.explainedGain. */
  #explainedGain(span: number, refEnergy: number): number {
    this.#correlated = true;
    this.#xr.set(this.#mr);
    this.#xi.set(this.#mi);
    fft(this.#xr, this.#xi, true);
    // lag maxLag - k: the caller window against reference[k .. k + window). Where that stretch of reference is nearly
    // silent the coefficient is mostly noise (it grows as 1 / its energy): counted at half the span's average at least
    const least = (refEnergy * this.#window) / span / 2;
    let most = 0;
    for (let k = 0; k <= this.#maxLag; k++) {
      const energy = Math.max(least, this.#stretchEnergy(k));
      most = Math.max(most, this.#xr[k]! ** 2 / energy ** 2);
    }
    return most;
  }
}
