import { Resampler } from '../../media/resampler.js';
import type { EchoConfig } from './config.js';
import {
  DelayEstimator,
  MEASURED_STRETCH_ENERGY,
  MIN_OCCUPANCY,
  MIN_STRENGTH,
  type DelayEstimate,
} from './delay-estimator.js';
import type { Expectation } from './residual-suppressor.js';

/**
 * Keeps the bot's own echo away from the VAD, per call.
 *
 * The reference is the bot's audio as it went out (the leg's `played` frames). Both streams are cut into 10 ms
 * blocks and compared by energy, not sample by sample: the leg's outgoing and incoming clocks are two timers with
 * a jitter buffer between them, so the alignment moves by a frame now and then, which a sample-domain canceller
 * (NLMS) would have to re-learn each time while an energy comparison with ±20 ms of slack does not care (and a
 * μ-law hop or the line's filtering does not change block energies much). See docs/barge-in.md for the measurements.
 *
 * - The echo delay and return loss are measured by correlating the log-energy envelopes of caller audio and
 *   reference over 0..maxDelayMs, every 250 ms, whenever the bot has been talking.
 * - Each caller block is compared with the echo expected from the reference at that delay and loss (before the
 *   line is measured: the loudest reference anywhere in 0..maxDelayMs, each lag `minErlDb` down until the bot's first
 *   echo has had time to come back and be measured, then the bound measured, or less where the sample-level probe's
 *   regression at that lag bounds it lower as the bot's words fill it). What is not above it by
 *   `marginDb` is attenuated; what is (a caller talking) passes, scaled like a Wiener gain, so the VAD hears the
 *   caller but not the echo. Recognition still gets the untouched audio.
 */
export interface EchoGuardStats {
  /** stretches of speech-level audio (≥ 100 ms) the guard kept from the VAD as echo */
  suspectedEcho: number;
  /** measured echo delay (reference out → caller audio in), ms; null until measured */
  delayMs: number | null;
  /** measured echo return loss, dB; null until measured */
  erlDb: number | null;
}

const BLOCK_MS = 10;
/** blocks of history kept for both streams (power of two): 5 s */
const HISTORY = 512;
const HISTORY_MASK = HISTORY - 1;
/** the correlation looks at the last 1.5 s */
const WINDOW_BLOCKS = 150;
/** the first measurement comes after 0.3 s */
const MIN_WINDOW_BLOCKS = 30;
const ESTIMATE_EVERY_BLOCKS = 25;
const FIRST_ESTIMATE_EVERY_BLOCKS = 5;
/** slack around the measured delay: timer jitter between the two streams and the impulse response's length */
const SPREAD_BLOCKS = 2;
/**
 * Without a delay the echo is compared with the loudest reference anywhere in range, which varies far more with the
 * speech: the bound takes the 95th percentile of caller/reference, so that it is a bound.
 */
const BOUND_PERCENTILE = 0.95;
/**
 * #explainedGain: a measured echo gain may be at most this many times the reference's share of the line's energy
 * (the regression's slope at the best lag; it is noisy, and the echo spreads over the blocks either side)
 */
const EXPLAINED_SAFETY = 2;
/**
 * The probe's bound (DelayEstimator.explainedGain, the strongest single lag of a 2 kHz correlation: the echo's
 * response spreads over a few lags and the band above 1 kHz is left out) times this is what echo there can be
 */
const PROBE_SAFETY = 4;
/** a probe bound below this (-40 dB) is a line without echo to speak of */
const PROBE_NO_ECHO = 1e-4;
/** samples of caller audio and reference kept for the probe while one of them is late (power of two) */
const PROBE_RING = 1 << 14;
/**
 * The slope at a measured delay caps its gain only over this many blocks of the bot talking at that lag (1 s): over
 * fewer it is noisy enough to fall far below the echo's gain (measured: 6 of 200 prompts on a 150 ms / 6 dB line let
 * 230 ms of echo through, 0.8 s into the bot's speech, with a 30-block minimum)
 */
const SLOPE_AT_DELAY_BLOCKS = 100;
/** #slope: the reference's energy must vary this much (variance / mean², over the blocks) to tell anything */
const MIN_SLOPE_SPREAD = 0.5;
/**
 * caller/reference at a delay (its 75th percentile) above this (0 dB) is not an echo: a line's echo is quieter than
 * the bot's audio (its return loss is positive), and the reference's peak over the spread is at least the echo's source
 */
const LOUDER_THAN_ECHO = 1;
/** echo-only blocks' caller/reference ratios stay within this (p75/p25: 15 dB) */
const MAX_SPREAD = 10 ** (15 / 10);
/** variance of a log10-energy envelope (std 0.3: 3 dB) below which it carries no timing */
const MIN_ENVELOPE_VARIANCE = 0.09;
/** below this best correlation, with the bot talking, the line has no echo worth masking */
const NO_ECHO_CORRELATION = 0.3;
/** a measurement counts when the envelopes correlate this well ... */
const MIN_CORRELATION = 0.5;
/** ... over a window in which the bot was talking at least this share of the time */
const MIN_ACTIVE_SHARE = 0.3;
/** reference blocks below -55 dBFS are the bot being silent */
const REF_ACTIVE_ENERGY = (32768 * 10 ** (-55 / 20)) ** 2;
/** caller blocks above -45 dBFS would be loud enough for the VAD to hear */
const SPEECH_ENERGY = (32768 * 10 ** (-45 / 20)) ** 2;
/** below this Wiener gain a block is echo and is silenced, not turned down */
const PASS_GAIN = 0.5;
/** how far the reference may fall behind the caller audio while the bot talks before it is padded with silence */
const LATE_REFERENCE_BLOCKS = 20;
/** the bot counts as talking until this long after its last sound: a pause between words, not the end */
const TALKING_BLOCKS = 30;
/**
 * The first echo's time: this many blocks (200 ms) past the longest delay after the bot's first audible audio, the
 * line holds enough of its echo, wherever it comes back, to be measured. #assumedGain gives way to the bound then (5 %
 * of the window's blocks are its percentile), and the probe bounds the echo from then on (at a lag it regresses the
 * caller window on the reference stretch whose echo the window holds; it used to wait for the whole window, 500 ms, and
 * a line without echo held callers to the early bound meanwhile: 85 % detected on the bench's line without echo, 92.5 %
 * since; 100 ms was too soon, its bound came out below a 300 ms / 6 dB line's echo: 2 false barge-ins in 40 prompts)
 */
const FIRST_ECHO_BLOCKS = 20;
/**
 * A pause this long (the probe's caller window, 0.5 s) and the bot's next words start a new run: until their echo can be
 * back (#echoBack) the window holds too little of it to bound the line by
 */
const RESUME_QUIET_BLOCKS = 50;
const EPISODE_MIN_BLOCKS = 10;
const EPISODE_GAP_BLOCKS = 30;

export class EchoGuard {
  readonly #cfg: EchoConfig;
  readonly #block: number;
  readonly #maxLag: number;
  readonly #refConverter: Resampler | null;
  readonly #refEnergy = new Float64Array(HISTORY);
  #refBlocks = 0;
  #refSum = 0;
  #refFill = 0;
  readonly #micEnergy = new Float64Array(HISTORY);
  /** for each caller block, the newest reference block when it arrived: the two clocks' alignment */
  readonly #micRefNow = new Float64Array(HISTORY);
  /** caller blocks loud enough for the VAD and passed as the caller: left out of the measurements */
  readonly #micPassed = new Uint8Array(HISTORY);
  #micBlocks = 0;
  #delay: number | null = null;
  /** the previous measurement's delay, waiting for a second one to agree */
  #candidate: number | null = null;
  #gain: number | null = null;
  /** echo gain bound measured without a delay (against the loudest reference in 0..maxDelayMs); null until measured */
  #boundGain: number | null = null;
  /** the caller block the bound was measured up to */
  #boundSince = 0;
  /** the bound has been measured with all the echo back in the window (#echoBack) */
  #boundWhileTalking = false;
  /** the first reference block loud enough for its echo to reach the VAD; null until there is one */
  #firstLoud: number | null = null;
  /** the first loud reference block after the bot was silent for RESUME_QUIET_BLOCKS or more (its first one included) */
  #resumed: number | null = null;
  /**
   * reference blocks in a row the bot has been silent (below REF_ACTIVE_ENERGY); blocks between that and speech level
   * (a recording's room noise) neither count nor end the run, so a prompt's noisy lead-in does not hide its resumption
   */
  #quietRef = Infinity;
  #lastGain = 1;
  #echoRun = 0;
  #gapRun = EPISODE_GAP_BLOCKS;
  #episodes = 0;
  #inEpisode = false;
  /**
   * The sample-level probe: caller and reference samples in step (counted, like the blocks), correlated for the most
   * echo the reference can explain; its bounds over the window: [#echoBlocks when measured, bound].
   */
  readonly #probe: DelayEstimator;
  readonly #probeMic = new Float32Array(PROBE_RING);
  readonly #probeRef = new Float32Array(PROBE_RING);
  #probeMicWritten = 0;
  #probeRefWritten = 0;
  #probedSamples = 0;
  /** the probe has bounded the echo (the no-delay bound holds no caller) */
  #probed = false;
  readonly #probeBounds: Array<[number, number]> = [];
  /**
   * caller blocks that came with all the echo back (#echoBack): the probe's window counts these, so that its bounds
   * outlast a pause (the bot's silence says nothing new about the line, and the first bounds after it hold the caller
   * who answered: they alone took a line without echo for one with 27 dB of it, and masked that caller)
   */
  #echoBlocks = 0;
  /**
   * The delay's gain is the probe's bound at it (DelayEstimator.explainedAt), below what the envelopes measured there:
   * the envelopes may have matched something else than an echo (a caller who started talking as the bot's words
   * reached that lag, a prompt's room-noise lead), and the delay may be wrong. Nothing then holds back an echo at another
   * delay, so the probe looks for one every 50 ms (#echoElsewhere) until the envelopes agree with it.
   */
  #gainOnProbe = false;
  /** the probe's estimate over its current window, and how many samples it had then (#probeEstimate) */
  #probeFound: DelayEstimate | null = null;
  #probeFoundAt = -1;
  /**
   * Per lag (blocks, 0..the longest with the spread), the most echo the probe's regression at that lag allows (times
   * PROBE_SAFETY; Infinity until the bot's audio has filled that lag's stretch), while no delay is measured: see #rule.
   * The least of its estimates over the last WINDOW_BLOCKS (a ring of one row per estimate, the caller block it was
   * taken at beside it).
   */
  readonly #lagBounds: Float64Array;
  readonly #lagRows: Float64Array[];
  readonly #lagRowAt: Float64Array;
  #lagRow = 0;
  /** the rule's echo gain per lag (blocks), refreshed by #rule */
  readonly #gains: Float64Array;

  /** `micRate`: the caller audio's rate; `refRate`: the bot audio's (the leg's output rate). */
  constructor(cfg: EchoConfig, micRate: number, refRate: number) {
    this.#cfg = cfg;
    this.#block = Math.round((micRate * BLOCK_MS) / 1000);
    this.#maxLag = Math.min(HISTORY - WINDOW_BLOCKS - SPREAD_BLOCKS, Math.ceil(cfg.maxDelayMs / BLOCK_MS));
    this.#refConverter = micRate === refRate ? null : new Resampler(refRate, micRate);
    this.#probe = new DelayEstimator(micRate, cfg.maxDelayMs);
    this.#lagBounds = new Float64Array(this.#maxLag + SPREAD_BLOCKS + 1).fill(Infinity);
    // (estimates come FIRST_ESTIMATE_EVERY_BLOCKS apart at the most)
    const rows = Math.ceil(WINDOW_BLOCKS / FIRST_ESTIMATE_EVERY_BLOCKS) + 1;
    this.#lagRows = Array.from({ length: rows }, () => new Float64Array(this.#lagBounds.length));
    this.#lagRowAt = new Float64Array(rows).fill(-Infinity);
    this.#gains = new Float64Array(this.#lagBounds.length);
  }

  /**
   * The line has been measured: an echo delay and loss, no echo at all, or a bound on its echo the caller cannot have
   * raised (the probe's): what passes while the bot talks is then the caller.
   */
  get measured(): boolean {
    return (this.#delay !== null && this.#gain !== null) || this.#boundGain === 0 || this.#probed;
  }

  /** The longest lag its rule may expect the echo from (`expectation`), ms. */
  get longestLagMs(): number {
    return (this.#maxLag + SPREAD_BLOCKS + 1) * BLOCK_MS;
  }

  get stats(): EchoGuardStats {
    return {
      suspectedEcho: this.#episodes,
      delayMs: this.#delay === null ? null : this.#delay * BLOCK_MS,
      erlDb: this.#gain === null ? null : Math.round(-10 * Math.log10(this.#gain) * 10) / 10,
    };
  }

  /** The bot's audio as it went out to the caller (the leg's `played` frames), in order. */
  reference(frame: Int16Array): void {
    if (!this.#cfg.enabled) return;
    const pcm = this.#refConverter ? this.#refConverter.process(frame) : frame;
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i]!;
      this.#probeRef[this.#probeRefWritten++ & (PROBE_RING - 1)] = s;
      this.#refSum += s * s;
      if (++this.#refFill === this.#block) {
        this.#pushRef(this.#refSum / this.#block);
        this.#refSum = 0;
        this.#refFill = 0;
      }
    }
  }

  /**
   * Caller audio in, what the VAD should hear out (same length; the input itself when disabled). With a canceller in
   * front, the stage hands it the line as it came too (the guard measures and judges the line itself) but leaves its
   * output: the residual echo suppressor applies its rule (`expectation`) to the canceller's residual bin by bin.
   */
  process(mic: Int16Array): Int16Array {
    if (!this.#cfg.enabled) return mic;
    const out = new Int16Array(mic.length);
    for (let at = 0; at < mic.length; at += this.#block) {
      const n = Math.min(this.#block, mic.length - at);
      // While the bot is silent no reference arrives: its clock must not fall behind the caller's. While it talks, a
      // frame missing now is late (a pacer behind a busy event loop catches up in a burst), not silence: taking it
      // for silence would shift the alignment for the rest of the prompt, so the reference may lag a little first.
      const lag = this.#refAt(this.#refBlocks - 1) >= REF_ACTIVE_ENERGY ? LATE_REFERENCE_BLOCKS : 0;
      while (this.#refBlocks < this.#micBlocks + 1 - lag) this.#pushRef(0);
      // (the probe's reference pads alike; a partial block's samples may land a block late, once)
      while (this.#probeRefWritten < this.#refBlocks * this.#block)
        this.#probeRef[this.#probeRefWritten++ & (PROBE_RING - 1)] = 0;
      let sum = 0;
      for (let i = at; i < at + n; i++) {
        sum += mic[i]! * mic[i]!;
        this.#probeMic[this.#probeMicWritten++ & (PROBE_RING - 1)] = mic[i]!;
      }
      this.#feedProbe();
      const energy = sum / n;
      // the reference block sent in step with this caller block: counted, not the newest, so that frames that arrive
      // in a burst (a pacer catching up, a queue played at once) keep their place in time
      const refNow = this.#micBlocks;
      const slot = this.#micBlocks & HISTORY_MASK;
      this.#micEnergy[slot] = energy;
      this.#micRefNow[slot] = refNow;
      this.#micBlocks++;
      if (this.#echoBack()) this.#echoBlocks++;
      const expected = this.#expectedEcho(refNow);
      const gain = this.#gainFor(energy, expected);
      this.#micPassed[slot] = energy >= SPEECH_ENERGY && gain >= 0.5 ? 1 : 0;
      // ramp from the previous block's gain: no step the VAD could take for an onset
      for (let i = 0; i < n; i++) {
        const g = this.#lastGain + ((gain - this.#lastGain) * (i + 1)) / n;
        out[at + i] = Math.round(mic[at + i]! * g);
      }
      this.#lastGain = gain;
      this.#countEpisode(energy, gain);
      // every 50 ms until the first bound and, while the bot talks, until the line is measured (a caller held back
      // meanwhile waits for the next measurement), then every 250 ms (every 50 ms while the delay's gain is the probe's:
      // #gainOnProbe); the bot silent and the line unmeasured, there is nothing new to measure
      const fast = this.#boundGain === null || (!this.measured && this.#quietRef < TALKING_BLOCKS) || this.#gainOnProbe;
      const every = fast ? FIRST_ESTIMATE_EVERY_BLOCKS : ESTIMATE_EVERY_BLOCKS;
      if (this.#micBlocks % every === 0) this.#estimate();
    }
    return out;
  }

  /** Caller and reference samples to the probe, as far as both have come (a late reference is waited for). */
  #feedProbe(): void {
    const upTo = Math.min(this.#probeMicWritten, this.#probeRefWritten);
    this.#probedSamples = Math.max(
      this.#probedSamples,
      Math.max(this.#probeMicWritten, this.#probeRefWritten) - PROBE_RING,
    );
    for (; this.#probedSamples < upTo; this.#probedSamples++) {
      const at = this.#probedSamples & (PROBE_RING - 1);
      this.#probe.push(this.#probeMic[at]!, this.#probeRef[at]!);
    }
  }

  /**
   * The most echo the line can hold by the probe: the least of its bounds over the window (each is the echo's gain
   * or more: a caller talking only adds to it), times PROBE_SAFETY; 1 (no limit) without one. Only bounds measured
   * after the bot has been audible for the whole delay range and FIRST_ECHO_BLOCKS more since it last resumed talking
   * count: before, a late echo may not be back yet. (After a pause, the caller window holds no echo while the stretches
   * of reference at short lags already hold the bot's new words: a bound taken then came out 0, the line was taken for
   * one without echo, and the next prompt's echo passed whole; on a 300 ms / 30 dB line, with the level guard alone,
   * 16.5 false barge-ins per 100 prompts that followed another one. See also #estimate.)
   */
  #probeBound(): number {
    const found = this.#echoBack() ? this.#probeEstimate() : null;
    if (found?.explainedGain != null) this.#probeBounds.push([this.#echoBlocks, found.explainedGain]);
    while (this.#probeBounds.length > 0 && this.#probeBounds[0]![0] <= this.#echoBlocks - WINDOW_BLOCKS)
      this.#probeBounds.shift();
    let least = Infinity;
    for (const [, bound] of this.#probeBounds) least = Math.min(least, bound);
    return Math.min(1, PROBE_SAFETY * least);
  }

  #pushRef(energy: number): void {
    if (energy >= SPEECH_ENERGY) {
      this.#firstLoud ??= this.#refBlocks;
      if (this.#quietRef >= RESUME_QUIET_BLOCKS) this.#resumed = this.#refBlocks;
      this.#quietRef = 0;
    } else if (energy < REF_ACTIVE_ENERGY) {
      this.#quietRef++;
    }
    this.#refEnergy[this.#refBlocks & HISTORY_MASK] = energy;
    this.#refBlocks++;
  }

  #refAt(block: number): number {
    return block < 0 || block <= this.#refBlocks - HISTORY || block >= this.#refBlocks
      ? 0
      : this.#refEnergy[block & HISTORY_MASK]!;
  }

  /**
   * The rule the newest caller block was judged by: the echo gain expected at each lag (the residual echo suppressor
   * applies it bin by bin while the canceller has not measured the line; the array is the guard's, read at once);
   * `none` when no echo is expected.
   */
  get expectation(): Expectation {
    const gains = this.#rule(this.#micBlocks - 1);
    return gains ? { by: 'guard', lagMs: BLOCK_MS, gains } : { by: 'none' };
  }

  /** Energy of the echo expected in the caller block that arrived when `refNow` was the newest reference. */
  #expectedEcho(refNow: number): number {
    const gains = this.#rule(refNow);
    if (!gains) return 0;
    let most = 0;
    for (let lag = 0; lag < gains.length; lag++) most = Math.max(most, this.#refAt(refNow - lag) * gains[lag]!);
    return most;
  }

  /**
   * The echo gain expected at each lag (blocks) at `refNow`; null when none is expected. With a measured delay, its
   * gain there (with the spread) and none elsewhere. Without, the gain assumed (#assumedGain) at every lag, or less
   * where the probe's regression at that lag bounds it lower (#lagBounds): the bot's words fill the lags one after
   * another, the shortest first, so where it assumed `minErlDb` against the loudest of the bot's audio anywhere in
   * range until its first words' echo could be back from the longest delay (0.7 s), it now does so only for the lags
   * that its first words have not filled yet (the 50-80 ms of them that reach the longest lags last) and bounds the
   * rest as measured, which a caller's speech only raises. A caller who talks over the greeting's first words was
   * held back by the bot's whole last 0.5 s at `minErlDb`; on the bench's line without echo, 19 of 200 such callers
   * were heard later than 300 ms or not at all, 10 now (offline replay; docs/barge-in.md).
   */
  #rule(refNow: number): Float64Array | null {
    const gains = this.#gains;
    if (this.#delay !== null && this.#gain !== null) {
      if (this.#gain === 0) return null;
      gains.fill(0);
      gains.fill(this.#gain, Math.max(0, this.#delay - SPREAD_BLOCKS), this.#delay + SPREAD_BLOCKS + 1);
      return gains;
    }
    // Without a measured delay, only while the bot is talking (pauses between words included): a caller who answers
    // after a prompt must not be held back by an echo tail that may not exist (a short first prompt is over before
    // anything is measured).
    if (!this.#botTalking(refNow)) return null;
    const assumed = this.#assumedGain();
    // (a line found to have no echo: nothing expected anywhere)
    if (assumed === 0) return null;
    for (let lag = 0; lag < gains.length; lag++) gains[lag] = Math.min(assumed, this.#lagBounds[lag]!);
    return gains;
  }

  /**
   * Each lag's bound by the probe's newest estimate: its regression of the caller window on the stretch of the bot's
   * audio whose echo the window holds at that lag (the spread either side), once that stretch holds
   * MEASURED_STRETCH_ENERGY (50 ms at -20 dBFS; offline, over the bench's greetings, -30 dBFS gave the same results:
   * the bot's first words fill a stretch with either within 10-20 ms).
   * A lag whose stretch holds the bot's words but no echo of them is bounded low however long ago the bot started,
   * and a lag whose stretch is silent not at all: so after a pause too, where the probe's window-wide bound is not
   * taken (#probeBound). Like that bound, each lag keeps the least of its estimates over the window (each is the echo's
   * gain there or more: a caller talking only adds to it, and one who has just started talking raises the newest):
   * offline, on the bench's line without echo, 13 of 200 greeting callers late or missed with the newest estimate
   * alone, 10 with the least.
   */
  #measureLags(): void {
    this.#probeEstimate();
    const row = this.#lagRows[this.#lagRow]!;
    this.#lagRowAt[this.#lagRow] = this.#micBlocks;
    this.#lagRow = (this.#lagRow + 1) % this.#lagRows.length;
    for (let lag = 0; lag < row.length; lag++)
      row[lag] = PROBE_SAFETY * this.#probe.explainedAt(...this.#probeRange(lag), MEASURED_STRETCH_ENERGY);
    this.#lagBounds.fill(Infinity);
    for (let r = 0; r < this.#lagRows.length; r++) {
      if (this.#lagRowAt[r]! <= this.#micBlocks - WINDOW_BLOCKS) continue;
      const bounds = this.#lagRows[r]!;
      for (let lag = 0; lag < bounds.length; lag++)
        this.#lagBounds[lag] = Math.min(this.#lagBounds[lag]!, bounds[lag]!);
    }
  }

  /**
   * The echo gain assumed before the line is measured: `minErlDb` until the bot's first audible audio has had time to
   * come back (the whole delay range) and be measured; then the bound measured, which holds that echo by then. Before,
   * nothing tells echo from caller: a 6 dB line's first echo let through was counted as the caller's and left out of
   * the bound, which then never rose to it (up to 510 ms of echo passed, a false barge-in in 7 of 40 TTS prompts on
   * the 20 ms / 6 dB line).
   */
  #assumedGain(): number {
    const guess = 10 ** (-this.#cfg.minErlDb / 10);
    if (this.#boundGain === null) return guess;
    return this.#boundSince < this.#heardBack() + FIRST_ECHO_BLOCKS
      ? Math.max(this.#boundGain, guess)
      : this.#boundGain;
  }

  /**
   * The first block by which the bot's first audible audio could have come back from the longest delay (its echo
   * spread included); Infinity while the bot has not been audible.
   */
  #heardBack(): number {
    return this.#backFrom(this.#firstLoud);
  }

  /**
   * The bot is talking and has been since long enough for the echo of its words to be back from the longest delay
   * (FIRST_ECHO_BLOCKS more): the caller window holds all the echo there is. Not so in a pause, nor from the moment
   * the bot resumes until then: the window then holds little or no echo while the reference holds new words.
   */
  #echoBack(): boolean {
    return this.#quietRef < TALKING_BLOCKS && this.#micBlocks - FIRST_ECHO_BLOCKS >= this.#backFrom(this.#resumed);
  }

  /** The first block by which reference block `from` could have come back from the longest delay; Infinity for null. */
  #backFrom(from: number | null): number {
    return from === null ? Infinity : from + this.#maxLag + SPREAD_BLOCKS;
  }

  #botTalking(refNow: number): boolean {
    for (let lag = 0; lag < TALKING_BLOCKS; lag++) if (this.#refAt(refNow - lag) >= REF_ACTIVE_ENERGY) return true;
    return false;
  }

  /** Wiener-like gain for audio far above the expected echo; 0 (silence) for echo and audio near it. */
  #gainFor(energy: number, echo: number): number {
    if (echo <= 0) return 1;
    const margin = 10 ** (this.#cfg.marginDb / 10);
    const gain = Math.sqrt(Math.max(0, 1 - (echo * margin) / Math.max(energy, 1)));
    // Silero hears speech at any level: echo turned down is still speech to it, so what is not the caller goes
    return gain < PASS_GAIN ? 0 : gain;
  }

  #countEpisode(energy: number, gain: number): void {
    if (energy >= SPEECH_ENERGY && gain < 0.5) {
      this.#gapRun = 0;
      if (++this.#echoRun >= EPISODE_MIN_BLOCKS && !this.#inEpisode) {
        this.#inEpisode = true;
        this.#episodes++;
      }
    } else if (++this.#gapRun >= EPISODE_GAP_BLOCKS) {
      this.#echoRun = 0;
      this.#inEpisode = false;
    }
  }

  /**
   * Delay: the lag where the envelopes correlate best; return loss: a high percentile of caller/reference there.
   * Without a clear delay (no echo at all, or too much double talk) only a bound is kept: caller/loudest reference
   * anywhere in range — on a line with no echo it falls far below the `minErlDb` guess and stops masking callers.
   */
  #estimate(): void {
    const n = Math.min(WINDOW_BLOCKS, this.#micBlocks);
    if (n < MIN_WINDOW_BLOCKS) return;
    const first = this.#micBlocks - n;
    const x = new Float64Array(n);
    const refNow = new Float64Array(n);
    /** blocks the caller spoke in: the echo is measured on the rest (like an adaptive canceller's freeze) */
    const caller = new Uint8Array(n);
    let sumX = 0;
    let used = 0;
    for (let j = 0; j < n; j++) {
      const slot = (first + j) & HISTORY_MASK;
      x[j] = Math.log10(this.#micEnergy[slot]! + 1);
      refNow[j] = this.#micRefNow[slot]!;
      caller[j] = this.#micPassed[slot]!;
      if (caller[j]) continue;
      sumX += x[j]!;
      used++;
    }
    if (used < MIN_WINDOW_BLOCKS) return;
    if (this.#gainOnProbe && this.#echoElsewhere(this.#probeEstimate(), this.#delay!)) this.#dropDelay();
    const meanX = sumX / used;
    let best = -1;
    let bestLag = -1;
    /** the bot's envelope moved at some lag: a low correlation then means no echo, not "cannot tell" */
    let refMoved = false;
    const y = new Float64Array(n);
    for (let lag = 0; lag <= this.#maxLag; lag++) {
      let sumY = 0;
      for (let j = 0; j < n; j++) if (!caller[j]) sumY += y[j] = Math.log10(this.#refAt(refNow[j]! - lag) + 1);
      const meanY = sumY / used;
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      for (let j = 0; j < n; j++) {
        if (caller[j]) continue;
        const dx = x[j]! - meanX;
        const dy = y[j]! - meanY;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
      }
      // an envelope that hardly moves (a steady tone, a held vowel) says nothing about the delay
      if (syy / used >= MIN_ENVELOPE_VARIANCE) refMoved = true;
      const moves = sxx / used >= MIN_ENVELOPE_VARIANCE && syy / used >= MIN_ENVELOPE_VARIANCE;
      const r = moves ? sxy / Math.sqrt(sxx * syy) : 0;
      if (r > best) {
        best = r;
        bestLag = lag;
      }
    }
    // (once the delay is measured the bounds are no longer used: the probe's FFTs are spared)
    if (this.#delay === null) this.#measureLags();
    const probe = this.#delay === null ? this.#probeBound() : 1;
    if (probe < 1) this.#probed = true;
    const explained = Math.min(probe, this.#explainedGain(first, refNow));
    // only blocks while the bot is talking: a caller answering just after it stopped is no echo
    const bound = this.#boundAt(first, refNow, explained);
    // The bot talked, and what came back does not follow it at any delay: no echo to speak of (a caller talking
    // over the first prompt would otherwise count as echo and hold themselves back).
    const noEcho =
      (refMoved && best < NO_ECHO_CORRELATION && n === WINDOW_BLOCKS && bound?.trusted === true) ||
      probe < PROBE_NO_ECHO;
    // In a pause and until the echo of the bot's next words can be back, the window says less about the line than the
    // bound measured while it talked (a window with no echo in it made a 300 ms / 30 dB line look like one without
    // echo, and the next prompt's echo passed whole): that bound stands meanwhile.
    const echoBack = this.#echoBack();
    if (bound !== null && (echoBack || !this.#boundWhileTalking)) {
      this.#boundGain = noEcho ? 0 : bound.gain;
      this.#boundSince = first + n;
      this.#boundWhileTalking ||= echoBack;
    }
    const candidate = this.#candidate;
    this.#candidate = null;
    if (best < MIN_CORRELATION) return;
    const loss = this.#lossAt(first, refNow, Math.max(0, bestLag - SPREAD_BLOCKS), bestLag + SPREAD_BLOCKS);
    // An echo comes back in every block the bot talks, at a steady level: a caller who answered just after the
    // bot stopped can line up with its tail once, but leaves most of the bot's blocks silent (a wide spread).
    if (!loss || loss.spread > MAX_SPREAD) return;
    // An echo is never louder than the bot's audio it comes from: a line louder than the reference at that lag is the
    // caller's (two room-noise leads, the caller's 20 dB above the prompt's, lined up at the lag between their starts
    // and were measured as an echo at 0 dB there: the bot's first words then masked a caller on a line without echo)
    if (loss.ratio > LOUDER_THAN_ECHO) return;
    this.#candidate = bestLag;
    // two measurements in a row must agree before the delay is trusted
    if (candidate === null || Math.abs(candidate - bestLag) > SPREAD_BLOCKS) return;
    const spread = [Math.max(0, bestLag - SPREAD_BLOCKS), bestLag + SPREAD_BLOCKS] as const;
    // the probe hears the echo at another delay: the envelopes matched something else at this one
    if (this.#echoElsewhere(this.#probeEstimate(), bestLag)) {
      this.#dropDelay();
      return;
    }
    this.#delay = bestLag;
    // (nor what the probe bounds: a steady tone leaves the slope nothing to say, and a caller held back over one, as
    // the first echo might have been, came back as a 0.8 gain on a line without echo)
    const measured = Math.min(
      loss.gain,
      EXPLAINED_SAFETY * this.#slope(first, refNow, ...spread, SLOPE_AT_DELAY_BLOCKS),
      probe,
    );
    // Nor what the probe's regression at this delay bounds, from the bot's first words on: a caller who starts as the
    // bot's first words reach a lag lines up with them there, envelope for envelope (a line without echo measured
    // 420 ms and -3 dB, and the caller was held back for 0.5 s), but not sample for sample.
    const bounded = PROBE_SAFETY * this.#probe.explainedAt(...this.#probeRange(bestLag));
    this.#gain = Math.min(measured, bounded);
    this.#gainOnProbe = bounded < measured;
  }

  /**
   * The probe hears an echo (a whitened peak that stands out, over a reference that fills the band: what the canceller
   * takes a delay from) outside `delay` ± the spread (blocks).
   */
  #echoElsewhere(found: DelayEstimate | null, delay: number): boolean {
    if (found === null || found.strength < MIN_STRENGTH || found.occupancy < MIN_OCCUPANCY) return false;
    const [from, to] = this.#probeRange(delay);
    return found.delay < from || found.delay > to;
  }

  /** The probe's delays (samples) that `delay` ± the spread (blocks) covers. */
  #probeRange(delay: number): [number, number] {
    return [Math.max(0, delay - SPREAD_BLOCKS) * this.#block, (delay + SPREAD_BLOCKS + 1) * this.#block];
  }

  /**
   * The probe's estimate (with its explained gain) over its current window: taken once per window, since the same
   * samples give the same estimate (#probeBound, the check for an echo elsewhere and a delay's bound all read it).
   */
  #probeEstimate(): DelayEstimate | null {
    if (this.#probeFoundAt !== this.#probedSamples) {
      this.#probeFound = this.#probe.estimate(true);
      this.#probeFoundAt = this.#probedSamples;
    }
    return this.#probeFound;
  }

  /**
   * The delay is not the echo's: the line counts as unmeasured again (the echo expected from the whole range). A
   * delay taken from a prompt's room-noise lead, 220 ms on a 300 ms / 6 dB line, had its gain bounded at -29 dB by the
   * probe there, and the loud echo that came back at 300 ms passed whole: a false barge-in.
   */
  #dropDelay(): void {
    this.#delay = null;
    this.#gain = null;
    this.#gainOnProbe = false;
  }

  /**
   * The echo gain bound (against the loudest reference anywhere in range), trusted once measured on blocks that came
   * after the bot had been audible for the whole range. Before that a late echo (a long line behind a backend's
   * playout buffer) may not have come back yet: its absence proves nothing, so until then the early bound can only
   * raise the assumed echo (`minErlDb`, #assumedGain), not lower it.
   */
  #boundAt(first: number, refNow: Float64Array, explained: number): { gain: number; trusted: boolean } | null {
    const to = this.#maxLag + SPREAD_BLOCKS;
    const trusted = this.#lossAt(first, refNow, 0, to, SPREAD_BLOCKS, BOUND_PERCENTILE, this.#heardBack());
    if (trusted) return { gain: Math.min(trusted.gain, explained), trusted: true };
    const early = this.#lossAt(first, refNow, 0, to, SPREAD_BLOCKS, BOUND_PERCENTILE);
    return early && { gain: Math.min(early.gain, explained), trusted: false };
  }

  /**
   * The most echo the reference's energy explains: at each lag, the slope of the line's block energies over the
   * reference's (their covariance over the reference's variance, on the window's blocks with the bot talking);
   * the largest, times EXPLAINED_SAFETY. An echo's energy follows the reference at its lag with slope = its gain;
   * a caller's does not follow the bot's at all (covariance 0 on average). A ratio of energies counts whatever is
   * on the line: blocks of a caller who talks from the bot's first words, masked because they sat just above the
   * echo expected, raised the next bound, which masked more of them, until the bound stood at the caller's level.
   */
  #explainedGain(first: number, refNow: Float64Array): number {
    let most = 0;
    for (let lag = 0; lag <= this.#maxLag + SPREAD_BLOCKS; lag++)
      most = Math.max(most, this.#slope(first, refNow, lag, lag));
    return Math.min(1, EXPLAINED_SAFETY * most);
  }

  /**
   * The slope of the line's block energies over the loudest reference at lags `from..to` (covariance over variance),
   * on the window's blocks with the bot talking; Infinity (no limit) with fewer than `minBlocks` of them.
   */
  #slope(first: number, refNow: Float64Array, from: number, to: number, minBlocks = MIN_WINDOW_BLOCKS): number {
    let n = 0;
    let sm = 0;
    let sr = 0;
    let smr = 0;
    let srr = 0;
    for (let j = 0; j < refNow.length; j++) {
      let r = 0;
      for (let lag = from; lag <= to; lag++) r = Math.max(r, this.#refAt(refNow[j]! - lag));
      if (r < REF_ACTIVE_ENERGY) continue;
      const m = this.#micEnergy[(first + j) & HISTORY_MASK]!;
      n++;
      sm += m;
      sr += r;
      smr += m * r;
      srr += r * r;
    }
    const variance = srr - (sr * sr) / Math.max(1, n);
    // a reference that hardly moves (a tone) leaves nothing for the line to follow: no limit either
    if (n < minBlocks || !(variance > (MIN_SLOPE_SPREAD * sr * sr) / n)) return Infinity;
    return Math.max(0, (smr - (sm * sr) / n) / variance);
  }

  /**
   * Echo gain over the window against the loudest reference at lags `from..to`: a high percentile of caller /
   * reference over the blocks where the bot talked (at a lag up to `activeWithin`) that arrived when the newest
   * reference was `since` or later; null when it talked too little. The reference peak is at least
   * the echo's own source, so echo-only ratios sit at or below the true gain: take a high percentile, but not the
   * top, where blocks with the caller talking too would be.
   */
  #lossAt(
    first: number,
    refNow: Float64Array,
    from: number,
    to: number,
    activeWithin = to,
    percentile = 0.75,
    since = 0,
  ): { gain: number; ratio: number; spread: number } | null {
    const ratios: number[] = [];
    for (let j = 0; j < refNow.length; j++) {
      if (refNow[j]! < since) continue;
      let peak = 0;
      let active = false;
      for (let lag = from; lag <= to; lag++) {
        const e = this.#refAt(refNow[j]! - lag);
        peak = Math.max(peak, e);
        if (lag <= activeWithin && e >= REF_ACTIVE_ENERGY) active = true;
      }
      const slot = (first + j) & HISTORY_MASK;
      // like an adaptive canceller, the measurement freezes while the caller talks over the bot
      if (active && !this.#micPassed[slot]) ratios.push(this.#micEnergy[slot]! / peak);
    }
    if (ratios.length < refNow.length * MIN_ACTIVE_SHARE) return null;
    // (blocks of double talk left out count against the share: a window full of it measures nothing)
    ratios.sort((a, b) => a - b);
    const high = ratios[Math.floor(ratios.length * percentile)]!;
    const low = ratios[Math.floor(ratios.length * 0.25)]!;
    return { gain: Math.min(1, high), ratio: high, spread: low > 0 ? high / low : Infinity };
  }
}
