/**
 * When the media server plays what the leg sends: the stamp of each `played` frame, so that the echo stage compares
 * caller audio with the bot audio the caller heard at that time.
 *
 * mod_audio_fork (lws_glue.cpp) holds bot audio in a pre-buffer until it has a block (1280 samples × downscale at
 * first, then 640 ×), then moves all of it to the playout buffer, which plays in real time. So the first block plays
 * 160 ms after it was sent on an 8 kHz call, and the playout then keeps that lead; but after killAudio (a barge-in)
 * the next prompt starts on a 80 ms block, and a prompt's tail waits in the pre-buffer until more audio comes. Stamped
 * with the send time, the echo's delay would move by up to 80 ms at each of those: stamped with the play time, it is
 * the line's own.
 */
export class ForkPlayout {
  readonly #rate: number;
  readonly #next: number;
  #block: number;
  #held: Array<{ frame: Int16Array; at: number }> = [];
  #heldSamples = 0;
  /** when the playout buffer runs dry (ms); -Infinity while empty */
  #playhead = -Infinity;

  /** `rate`: the stream's; `firstBlock`, `nextBlock`: the pre-buffer's blocks in samples at that rate */
  constructor(rate: number, firstBlock: number, nextBlock: number) {
    this.#rate = rate;
    this.#block = firstBlock;
    this.#next = nextBlock;
  }

  /**
   * A frame sent at `at` (ms). Returns the frames the media server starts playing now that a block is complete,
   * each with when it plays (ms, in order); none while the pre-buffer still waits for more.
   */
  sent(frame: Int16Array, at: number): Array<{ frame: Int16Array; at: number }> {
    this.#held.push({ frame, at });
    this.#heldSamples += frame.length;
    if (this.#heldSamples < this.#block) return [];
    this.#block = this.#next;
    let t = Math.max(at, this.#playhead);
    const out = this.#held.map((h) => {
      const play = { frame: h.frame, at: t };
      t += (h.frame.length * 1000) / this.#rate;
      return play;
    });
    this.#playhead = t;
    this.#held = [];
    this.#heldSamples = 0;
    return out;
  }

  /**
   * killAudio at `at`: the playout buffer is dropped. `flushed`: silence sent just before pushed the pre-buffer's
   * held audio into it, so that goes too; otherwise it stays, to play in front of the next prompt.
   */
  killed(at: number, flushed: boolean): void {
    this.#playhead = at;
    if (!flushed) return;
    this.#held = [];
    this.#heldSamples = 0;
  }
}
