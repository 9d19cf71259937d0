/**
 * Residual echo suppression after the canceller (an AEC's "non-linear processor"), for the VAD only.
 *
 * What the canceller leaves of the echo is noise-like and 20-30 dB down, but it still follows the bot's words, and
 * Silero hears speech at any level. The canceller knows, sample by sample, the echo it removed, how much of the
 * echo it leaves (1 / ERLE, measured on loud echo) and the residual's floor (line noise): each 10 ms block whose
 * residual is not `marginDb` above that share of the echo plus the floor is silenced (the VAD would hear turned-down
 * echo as speech); blocks above it (the caller) pass. Unlike the level guard's comparison with the reference ±20 ms,
 * this one is sample-aligned with the actual echo, so a caller 20 dB below the bot's own echo still passes.
 */
const BLOCK_MS = 10;

export class ResidualSuppressor {
  readonly #block: number;
  readonly #margin: number;
  #lastGain = 1;

  constructor(rate: number, marginDb: number) {
    this.#block = Math.max(1, Math.round((BLOCK_MS * rate) / 1000));
    this.#margin = 10 ** (marginDb / 10);
  }

  /**
   * `residual`: the canceller's output; `echo`: its echo estimate for the same samples; `share`: the residual echo
   * it leaves, as a share of the echo; `floor`: what the residual holds besides (line noise), energy per sample.
   * Returns what the VAD should hear.
   */
  process(residual: Int16Array, echo: Float32Array, share: number, floor: number): Int16Array {
    const out = new Int16Array(residual.length);
    for (let at = 0; at < residual.length; at += this.#block) {
      const end = Math.min(residual.length, at + this.#block);
      let res = 0;
      let est = 0;
      for (let i = at; i < end; i++) {
        res += residual[i]! * residual[i]!;
        est += echo[i]! * echo[i]!;
      }
      // all or nothing: the caller reaches the VAD (and the onset cue) at their own level, the echo not at all
      const gain = res >= this.#margin * (share * est + floor * (end - at)) ? 1 : 0;
      // ramp from the previous block's gain: no step the VAD could take for an onset
      const n = end - at;
      for (let i = at; i < end; i++) {
        const g = this.#lastGain + ((gain - this.#lastGain) * (i - at + 1)) / n;
        out[i] = Math.round(residual[i]! * g);
      }
      this.#lastGain = gain;
    }
    return out;
  }
}
