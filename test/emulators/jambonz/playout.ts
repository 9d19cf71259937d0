/**
 * The media server's side of bidirectional streaming, as mod_audio_fork (lws_glue.cpp) does it:
 * - binary frames go into a pre-buffer; only when it holds a block (1280 samples × downscale at first, then 640 ×
 *   downscale) is all of it moved to the playout buffer, so a shorter tail waits for more audio (or is lost at
 *   disconnect). downscale = stream rate / the call's codec rate (when higher): the blocks are 160 then 80 ms of
 *   audio on an 8 kHz (G.711) call whatever the stream's rate;
 * - a `mark` waits in an inventory and rides on the next binary frame as a marker sample 0xFFFF (int16 −1) in front of
 *   it; while marks are in use, any −1 sample in the played audio is taken for a marker (and dropped); a mark still in
 *   the inventory is reported once the playout buffer is empty;
 * - `killAudio` is applied at the next 20 ms frame: it clears the playout buffer (not the pre-buffer, whose audio plays
 *   later, in front of the next utterance), reports pending marks as `cleared` and remembers the in-use ones so their
 *   markers are swallowed silently (markers that were in the cleared buffer are never seen again);
 * - at most 30 marks pending; an odd byte is set aside until the next frame.
 * The emulator plays at the stream's rate (no resampling to the call's codec).
 */
import { concatPcm } from '../../../src/media/pcm.js';

export interface MarkReport {
  name: string;
  event: 'playout' | 'cleared';
}

/** Audio the caller heard, with the time it was played (performance.now()). */
export interface HeardChunk {
  at: number;
  pcm: Int16Array;
}

const FRAME_MS = 20;
const MARKER = -1;
const MAX_MARKS = 30;
/** streamingPreBufSize: 320 × downscale × 4 samples at first, 320 × downscale × 2 after the first block */
const FIRST_BLOCK = 1280;
const NEXT_BLOCK = 640;

export class Playout {
  readonly #rate: number;
  readonly #downscale: number;
  readonly #onMark: (m: MarkReport) => void;
  #pre: number[] = [];
  #block: number;
  #setAside: number | null = null;
  #buffer: number[] = [];
  #inventory: string[] = [];
  #inUse: string[] = [];
  #cleared: string[] = [];
  #marksSeen = false;
  #clear = false;
  readonly #heard: HeardChunk[] = [];
  #start = 0;
  #frames = 0;
  #timer: NodeJS.Timeout | null = null;
  killed = 0;
  droppedMarks = 0;

  /** `at`: when it played (performance.now()); `slot`: the media-clock slot it played in (no later than `at`) */
  readonly #onPlayed: ((pcm: Int16Array, at: number, slot: number) => void) | undefined;

  /**
   * `rate`: the bot's stream rate (bidirectionalAudio.sampleRate); `codecRate`: the call's codec rate (the channel's
   * read codec, not the listen's sampleRate: fork_session_init passes actual_samples_per_second); `onPlayed`: each
   * 20 ms frame as the caller hears it, with its performance.now() time (latency benches).
   */
  constructor(
    rate: number,
    codecRate: number,
    onMark: (m: MarkReport) => void,
    onPlayed?: (pcm: Int16Array, at: number, slot: number) => void,
  ) {
    this.#rate = rate;
    this.#onPlayed = onPlayed;
    this.#downscale = rate > codecRate ? rate / codecRate : 1;
    this.#block = FIRST_BLOCK * this.#downscale;
    this.#onMark = onMark;
    this.#start = performance.now();
    this.#timer = setInterval(() => this.#tick(), FRAME_MS / 2);
  }

  /** One binary frame from the app: L16 little-endian bytes. */
  push(bytes: Buffer): void {
    let data = bytes;
    if (this.#setAside !== null) {
      data = Buffer.concat([Buffer.from([this.#setAside]), bytes]);
      this.#setAside = null;
    }
    if (data.length % 2 !== 0) {
      this.#setAside = data[data.length - 1]!;
      data = data.subarray(0, data.length - 1);
    }
    // Marks sent since the last frame ride in front of this one.
    for (const name of this.#inventory) {
      this.#inUse.push(name);
      this.#pre.push(MARKER);
    }
    this.#inventory = [];
    for (let i = 0; i + 1 < data.length; i += 2) this.#pre.push(data.readInt16LE(i));
    if (this.#pre.length < this.#block) return;
    this.#block = NEXT_BLOCK * this.#downscale;
    for (const s of this.#pre) this.#buffer.push(s);
    this.#pre = [];
  }

  mark(name: string): void {
    this.#marksSeen = true;
    if (this.#inUse.length + this.#inventory.length >= MAX_MARKS) {
      this.droppedMarks++;
      return;
    }
    this.#inventory.push(name);
  }

  clearMarks(): void {
    this.#cleared.push(...this.#inUse, ...this.#inventory);
    this.#inUse = [];
    this.#inventory = [];
  }

  kill(): void {
    this.#clear = true;
  }

  /** Everything the caller has heard so far, concatenated. */
  heard(): Int16Array {
    return concatPcm(this.#heard.map((c) => c.pcm));
  }

  heardChunks(): HeardChunk[] {
    return [...this.#heard];
  }

  /** samples still waiting in the pre-buffer (held until more audio arrives) */
  get held(): number {
    return this.#pre.length;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One media frame every 20 ms on an absolute clock, so a late timer never slows playout down. */
  #tick(): void {
    const due = Math.floor((performance.now() - this.#start) / FRAME_MS) - this.#frames;
    for (let k = 0; k < due; k++) {
      this.#frames++;
      this.#frame();
    }
  }

  #frame(): void {
    if (this.#clear) {
      this.#clear = false;
      this.killed += this.#buffer.length;
      this.#buffer = [];
      const pending = [...this.#inUse, ...this.#inventory];
      for (const name of pending) this.#onMark({ name, event: 'cleared' });
      this.#cleared.push(...this.#inUse);
      this.#inUse = [];
      this.#inventory = [];
      return;
    }
    const n = Math.min(this.#buffer.length, (this.#rate * FRAME_MS) / 1000);
    const taken = this.#buffer.splice(0, n);
    const hasMarkers = this.#marksSeen && this.#inUse.length + this.#cleared.length > 0;
    let played = taken;
    if (hasMarkers) {
      played = [];
      for (const s of taken) {
        if (s !== MARKER) {
          played.push(s);
          continue;
        }
        if (this.#cleared.length > 0) this.#cleared.shift();
        else {
          const name = this.#inUse.shift();
          if (name !== undefined) this.#onMark({ name, event: 'playout' });
        }
      }
    } else if (n === 0 && this.#inventory.length > 0) {
      this.#onMark({ name: this.#inventory.shift()!, event: 'playout' });
    }
    if (played.length === 0) return;
    const chunk = { at: performance.now(), pcm: Int16Array.from(played) };
    this.#heard.push(chunk);
    this.#onPlayed?.(chunk.pcm, chunk.at, this.#start + this.#frames * FRAME_MS);
  }
}
