/**
 * Lines the bot's reference up with the caller's audio by media time, per call.
 *
 * The leg stamps both streams on its media clock (ms): each `played` frame with when it went out (its pacer slot, or
 * later if a stalled loop sent it late), each caller frame with the time it stands for (its RTP timestamp, or its
 * place in the incoming sample count). The bot's
 * audio goes into a timeline at its stamp; each caller frame takes the reference of its own time span from there.
 * So the order in which the two arrive (two timers, an event loop that stalls, a jitter buffer) does not matter, a
 * caller frame that never came (lost) leaves its place empty instead of moving the rest up, and a pause of the bot
 * is silence of the right length.
 *
 * Positions are samples at the caller's rate. Stamps within `SNAP_MS` of where a stream's previous frame ended
 * continue it exactly (rounding, a resampler's frames a sample longer or shorter); a reference frame stamped
 * earlier than that is played after the one before it, as a peer plays what it gets (never on top of it).
 */
const SNAP_MS = 10;
/** reference kept, ms: caller audio may lag the bot's this much (a jitter buffer, a stalled event loop) */
const RING_MS = 4000;
/** reference samples below this are the bot being silent (about -60 dBFS) */
const SOUND = 32;

export interface CallerSpan {
  /** caller frames that never came before this one: the reference of their time (the stages' clocks skip it) */
  gap: { reference: Int16Array } | null;
  /** the reference sent in the frame's own time span, as long as the frame */
  reference: Int16Array;
}

export class MediaTimeline {
  readonly #rate: number;
  readonly #snap: number;
  /** reference the echo stages remember (longest delay plus filter): a longer gap needs only its last part fed */
  readonly #memory: number;
  readonly #ring: Int16Array;
  readonly #mask: number;
  #refStart: number | null = null;
  #refEnd: number | null = null;
  /** where the bot last made a sound (end of that frame) */
  #lastSound = -Infinity;
  #callerEnd: number | null = null;

  /** `rate`: the caller audio's (the reference is converted to it first); `memoryMs`: the stages' reach back. */
  constructor(rate: number, memoryMs: number) {
    this.#rate = rate;
    this.#snap = Math.round((SNAP_MS * rate) / 1000);
    this.#memory = Math.ceil((memoryMs * rate) / 1000);
    let size = 1;
    while (size < (RING_MS * rate) / 1000) size <<= 1;
    this.#ring = new Int16Array(size);
    this.#mask = size - 1;
  }

  /** A reference frame stamped `at` begins a new run (the bot was silent before it). */
  startsRun(at: number): boolean {
    return this.#refEnd !== null && this.#position(at) > this.#refEnd + this.#snap;
  }

  /** Reference audio that continues the last frame (a resampler's delayed tail). */
  extendReference(pcm: Int16Array): void {
    if (this.#refEnd !== null) this.#write(pcm, this.#refEnd);
  }

  /** The bot's audio (at the caller's rate) sent at `at` (ms on the leg's media clock). */
  reference(pcm: Int16Array, at: number): void {
    let p = this.#position(at);
    const end = this.#refEnd;
    if (end !== null && p <= end + this.#snap) p = end;
    else if (end !== null) this.#zero(Math.max(end, p - this.#ring.length), p);
    this.#refStart ??= p;
    this.#write(pcm, p);
  }

  /** A caller frame of `samples` stamped `at`: the reference to compare it with, and any gap before it. */
  caller(samples: number, at: number): CallerSpan {
    let p = this.#position(at);
    const end = this.#callerEnd;
    let gap: CallerSpan['gap'] = null;
    if (end !== null) {
      if (Math.abs(p - end) <= this.#snap) p = end;
      else if (p > end) gap = { reference: this.#read(Math.max(end, p - this.#memory), p) };
      // Earlier than the last frame ended: the leg moved its clock's origin back (it saw a frame come sooner than
      // the first). Free while the bot has not been heard anywhere this frame could hold; otherwise the frames go
      // on where the last ended, so the echo's alignment holds.
      else if (this.#lastSound > p - this.#memory) p = end;
    }
    this.#callerEnd = p + samples;
    return { gap, reference: this.#read(p, p + samples) };
  }

  #position(at: number): number {
    return Math.round((at * this.#rate) / 1000);
  }

  #write(pcm: Int16Array, at: number): void {
    let sound = false;
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i]!;
      this.#ring[(at + i) & this.#mask] = s;
      if (s > SOUND || s < -SOUND) sound = true;
    }
    this.#refEnd = at + pcm.length;
    if (sound) this.#lastSound = this.#refEnd;
  }

  #zero(from: number, to: number): void {
    for (let q = from; q < to; q++) this.#ring[q & this.#mask] = 0;
  }

  /** Reference samples `from..to`: silence where none was sent, or it is too old to be kept. */
  #read(from: number, to: number): Int16Array {
    const out = new Int16Array(Math.max(0, to - from));
    const start = this.#refStart;
    const end = this.#refEnd;
    if (start === null || end === null) return out;
    const lo = Math.max(from, start, end - this.#ring.length);
    const hi = Math.min(to, end);
    for (let q = lo; q < hi; q++) out[q - from] = this.#ring[q & this.#mask]!;
    return out;
  }
}
