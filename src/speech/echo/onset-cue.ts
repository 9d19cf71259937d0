import { energyDb } from '../audio.js';

/**
 * A fast cue that the caller started talking over the bot, from what the VAD hears (the echo handling's output).
 *
 * Silero says "speech" 250-350 ms after a word begins: alone, that is the whole barge-in budget. Once the echo
 * handling has settled, what it passes while the bot talks is the caller (the echo is silenced), so blocks well
 * above the floor of that output are a caller onset, found as soon as `minMs` of them came within `minMs` + 250 ms. The cue is
 * only a cue: the call confirms it with Silero's own speech start, and resumes the prompt when that does not come.
 */
const BLOCK_MS = 10;
/** blocks at least this loud (and above the floor) count: a caller at a phone's level, not line noise */
const MIN_DBFS = -35;
const ABOVE_FLOOR_DB = 12;
/**
 * the loud blocks are counted over `minMs` and this much more: a first syllable shorter than `minMs`, a pause of up to
 * this, and the next one add up (a contiguous run would start again after the pause, 100-250 ms later)
 */
const PAUSE_BLOCKS = 25;
/** after a cue, none again until this much audio without a loud block */
const REARM_BLOCKS = 50;
/** blocks quieter than this are silence the echo handling made, not the line's floor */
const SILENCED_DB = -85;
const FULL_SCALE_DB = 20 * Math.log10(32768);

export class OnsetCue {
  readonly #block: number;
  readonly #minBlocks: number;
  readonly #pending: Int16Array;
  #fill = 0;
  #floorDb = Number.NaN;
  /** loud (1) or not (0), the last `window` blocks, and how many of them are loud */
  readonly #recent: Uint8Array;
  #recentAt = 0;
  #loudCount = 0;
  #quiet = REARM_BLOCKS;
  #fired = false;

  readonly #armed: () => boolean;

  /**
   * `rate`: of the audio pushed; `minMs`: loud audio needed for a cue; `armed`: whether a cue would be acted on now
   * (the echo handling has settled). A run that reaches `minMs` before then goes on counting and fires the moment it
   * is armed, instead of being spent unheard (the next cue would come only after 0.5 s without a loud block, and a
   * caller who talks on never gives one).
   */
  constructor(rate: number, minMs: number, armed: () => boolean = () => true) {
    this.#block = Math.round((BLOCK_MS * rate) / 1000);
    this.#minBlocks = Math.max(1, Math.ceil(minMs / BLOCK_MS));
    this.#pending = new Int16Array(this.#block);
    this.#armed = armed;
    this.#recent = new Uint8Array(this.#minBlocks + PAUSE_BLOCKS);
  }

  /** Audio as the VAD hears it; true when a cue fires within it. */
  push(pcm: Int16Array): boolean {
    let cue = false;
    for (let at = 0; at < pcm.length;) {
      const take = Math.min(this.#block - this.#fill, pcm.length - at);
      this.#pending.set(pcm.subarray(at, at + take), this.#fill);
      this.#fill += take;
      at += take;
      if (this.#fill < this.#block) break;
      this.#fill = 0;
      if (this.#onBlock(energyDb(this.#pending) - FULL_SCALE_DB)) cue = true;
    }
    return cue;
  }

  #onBlock(db: number): boolean {
    const floor = Number.isNaN(this.#floorDb) ? -Infinity : this.#floorDb;
    const loud = db >= MIN_DBFS && db >= floor + ABOVE_FLOOR_DB;
    const at = this.#recentAt++ % this.#recent.length;
    this.#loudCount += (loud ? 1 : 0) - this.#recent[at]!;
    this.#recent[at] = loud ? 1 : 0;
    if (loud) {
      this.#quiet = 0;
    } else {
      if (++this.#quiet >= REARM_BLOCKS) this.#fired = false;
      // the floor: falls at once, rises 0.3 dB a block; silenced blocks say nothing about it
      if (db > SILENCED_DB) this.#floorDb = Number.isNaN(this.#floorDb) ? db : Math.min(db, this.#floorDb + 0.3);
    }
    if (this.#fired || !loud || this.#loudCount < this.#minBlocks || !this.#armed()) return false;
    this.#fired = true;
    return true;
  }
}
