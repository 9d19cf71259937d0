import { Resampler } from '../../media/resampler.js';
import { EchoCanceller } from './canceller.js';
import type { EchoConfig } from './config.js';
import { EchoGuard, type EchoGuardStats } from './echo-guard.js';
import { ResidualSuppressor, type EchoEstimate, type Expectation } from './residual-suppressor.js';
import { MediaTimeline } from './timeline.js';

export interface EchoStats extends EchoGuardStats {
  /** the canceller's delay, ms; null until found or without a canceller */
  cancellerDelayMs: number | null;
  /** echo return loss enhancement over the call (canceller in / out while the bot talked), dB */
  erleDb: number | null;
}

/**
 * What stands between the caller audio and the VAD, per call:
 * - with `speech.echo.cancel`, the echo canceller subtracts the bot's echo sample by sample; once it cancels (10 dB
 *   or more), the residual echo suppressor silences what is left of the echo, frequency bin by bin, from the canceller's
 *   own echo estimate. Before that, once the canceller has found the delay and the line's echo gain (0.2-0.4 s into
 *   the bot's speech), the suppressor silences what is not above the whole echo expected; before even that, it
 *   applies the level guard's rule bin by bin (the guard measures and judges the line itself, as it came);
 * - without it, the level guard alone (it then hears a caller only where they are louder than the echo).
 * The guard runs all along either way: it keeps its measurements current and counts the suspected echo.
 */
export class EchoStage {
  readonly #refConverter: Resampler | null;
  readonly #canceller: EchoCanceller | null;
  readonly #guard: EchoGuard;
  readonly #suppressor: ResidualSuppressor;
  readonly #timeline: MediaTimeline;
  #echo: EchoEstimate = { reference: new Float32Array(0), filter: new Float32Array(0), line: new Float32Array(0) };

  /** `micRate`: the caller audio's rate; `refRate`: the bot audio's (the leg's output rate). */
  constructor(cfg: EchoConfig, micRate: number, refRate: number) {
    this.#refConverter = micRate === refRate ? null : new Resampler(refRate, micRate);
    this.#canceller = cfg.cancel ? new EchoCanceller(micRate, cfg.maxDelayMs, cfg.filterMs) : null;
    this.#guard = new EchoGuard(cfg, micRate, micRate);
    this.#suppressor = new ResidualSuppressor(micRate, cfg.marginDb, this.#guard.longestLagMs);
    this.#timeline = new MediaTimeline(micRate, cfg.maxDelayMs + cfg.filterMs);
  }

  /**
   * What it passes while the bot talks is the caller's, not the echo (the fast onset cue waits for this). Without the
   * canceller, once the guard has measured the line: before, its whole 10 ms blocks pass what is louder than the echo
   * assumed against the loudest of the bot's audio in range, and a loud stretch may still be echo. With it, from the
   * start: the residual echo suppressor passes only the bins above the echo expected there, by the canceller's
   * estimate or, before the canceller has measured the line, by the guard's rule (`minErlDb` and 5 dB for the line's
   * response under the most the bot's audio held in that bin at any lag in range).
   */
  get settled(): boolean {
    return this.#canceller !== null || this.#guard.measured;
  }

  get stats(): EchoStats {
    const canceller = this.#canceller?.stats;
    return {
      ...this.#guard.stats,
      cancellerDelayMs: canceller?.delayMs ?? null,
      erleDb: canceller?.erleDb ?? null,
    };
  }

  /**
   * The bot's audio as it went out to the caller (the leg's `played` frames), in order. `at`: when it went out on
   * the leg's media clock (ms, the `played` event's stamp); with stamps on both streams the stage lines reference
   * and caller audio up by media time, not by the order they arrive in. Without, by counting.
   */
  reference(frame: Int16Array, at?: number): void {
    if (at !== undefined) {
      // a new run after a pause: the converter's delayed tail belongs to the end of the last one
      if (this.#refConverter && this.#timeline.startsRun(at))
        this.#timeline.extendReference(this.#refConverter.flush());
      this.#timeline.reference(this.#refConverter ? this.#refConverter.process(frame) : frame, at);
      return;
    }
    this.#feedReference(this.#refConverter ? this.#refConverter.process(frame) : frame);
  }

  /**
   * Caller audio in, what the VAD should hear out (same length). `at`: the frame's time on the leg's media clock
   * (ms, the `audio` event's stamp): the reference sent at that time is the one it is compared with; a frame that
   * never came (a lost packet) leaves its place empty instead of moving the rest.
   */
  process(mic: Int16Array, at?: number): Int16Array {
    if (at === undefined) return this.#process(mic);
    const { gap, reference } = this.#timeline.caller(mic.length, at);
    if (gap) {
      // the missing audio's place: the reference of that time goes in beside silence, so that both stages' clocks
      // stay in step (what comes out is nobody's)
      this.#feedReference(gap.reference);
      this.#process(new Int16Array(gap.reference.length), true);
    }
    this.#feedReference(reference);
    return this.#process(mic);
  }

  #feedReference(pcm: Int16Array): void {
    this.#canceller?.reference(pcm);
    this.#guard.reference(pcm);
  }

  /** `lost`: the place of audio that never came (its output is dropped, but goes into the suppressor's frames) */
  #process(mic: Int16Array, lost = false): Int16Array {
    if (!this.#canceller) return this.#guard.process(mic);
    if (this.#echo.filter.length !== mic.length)
      this.#echo = {
        reference: new Float32Array(mic.length),
        filter: new Float32Array(mic.length),
        line: new Float32Array(mic.length),
      };
    const residual = this.#canceller.process(mic, this.#echo);
    // the canceller's residual of a silence it was handed is its own echo estimate, turned over: nobody's audio, which
    // the suppressor's latency would carry into the next frame's output
    if (lost) residual.fill(0);
    // the guard measures the line as it came and keeps its rule current; its own output (whole 10 ms blocks) is left
    this.#guard.process(mic);
    const share = this.#canceller.residualShare;
    // The suppressor decides every frame, so that the VAD hears one stream, 8 ms late throughout: once the filter
    // cancels, with the share of the echo it leaves; once the canceller has measured the line but does not cancel yet,
    // with all of it (the guard's rule, but with the canceller's sample-aligned estimate, which a caller talking from
    // the start cannot talk up); before, by the guard's rule bin by bin.
    const expected: Expectation =
      share !== null || this.#canceller.measured
        ? { by: 'canceller', share: share ?? 1, floor: this.#canceller.residualFloor }
        : this.#guard.expectation;
    return this.#suppressor.process(residual, this.#echo, expected, this.#canceller.located);
  }
}
