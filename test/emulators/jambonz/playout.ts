/**
 * jambonz's side of bidirectional streaming: audio from the app is buffered, then played out in real time.
 * Like the media server it pre-buffers (160 ms) before starting, reports marks when playout reaches them,
 * and flushes everything (marks → "cleared") on killAudio.
 */
import { concatPcm } from '../../../src/media/pcm.js';

export interface MarkReport {
  name: string;
  event: 'playout' | 'cleared';
}

const FRAME_MS = 20;
const PREBUFFER_MS = 160;
/** a tail shorter than the pre-buffer still plays once it has waited this long */
const TAIL_WAIT_MS = 200;
const MAX_MARKS = 30;

export class Playout {
  readonly #rate: number;
  readonly #onMark: (m: MarkReport) => void;
  #queue: Int16Array[] = [];
  #queued = 0;
  #received = 0;
  #played = 0;
  #heard: Int16Array[] = [];
  #marks: { name: string; at: number }[] = [];
  #playing = false;
  #playStart = 0;
  #framesPlayed = 0;
  #waitingSince: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  killed = 0;
  droppedMarks = 0;

  readonly #onPlayed: ((pcm: Int16Array, at: number) => void) | undefined;

  /** `onPlayed`: each 20 ms frame as the caller hears it, with its performance.now() time (latency benches). */
  constructor(rate: number, onMark: (m: MarkReport) => void, onPlayed?: (pcm: Int16Array, at: number) => void) {
    this.#rate = rate;
    this.#onMark = onMark;
    this.#onPlayed = onPlayed;
    this.#timer = setInterval(() => this.#tick(), FRAME_MS);
  }

  push(pcm: Int16Array): void {
    this.#queue.push(pcm);
    this.#queued += pcm.length;
    this.#received += pcm.length;
    this.#waitingSince ??= Date.now();
  }

  mark(name: string): void {
    if (this.#marks.length >= MAX_MARKS) {
      this.droppedMarks++;
      return;
    }
    this.#marks.push({ name, at: this.#received });
    this.#reportMarks();
  }

  clearMarks(): void {
    this.#marks = [];
  }

  kill(): void {
    this.killed += this.#queued;
    this.#played += this.#queued;
    this.#queue = [];
    this.#queued = 0;
    this.#playing = false;
    this.#waitingSince = null;
    const marks = this.#marks;
    this.#marks = [];
    for (const m of marks) this.#onMark({ name: m.name, event: 'cleared' });
  }

  /** Everything the caller has heard so far, concatenated. */
  heard(): Int16Array {
    return concatPcm(this.#heard);
  }

  get heardSamples(): number {
    return this.#heard.reduce((n, c) => n + c.length, 0);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Plays on an absolute clock (start + n × 20 ms) so a late timer never slows playout down. */
  #tick(): void {
    const frame = (this.#rate * FRAME_MS) / 1000;
    const now = performance.now();
    if (!this.#playing) {
      const prebuffered = this.#queued >= (this.#rate * PREBUFFER_MS) / 1000;
      const tailWaited = this.#waitingSince !== null && Date.now() - this.#waitingSince >= TAIL_WAIT_MS;
      if (this.#queued === 0 || (!prebuffered && !tailWaited)) return;
      this.#playing = true;
      this.#playStart = now;
      this.#framesPlayed = 0;
    }
    const due = Math.floor((now - this.#playStart) / FRAME_MS) + 1 - this.#framesPlayed;
    for (let k = 0; k < due && this.#queued > 0; k++) {
      this.#framesPlayed++;
      let need = frame;
      while (need > 0 && this.#queue.length > 0) {
        const head = this.#queue[0]!;
        const take = Math.min(need, head.length);
        this.#heard.push(head.subarray(0, take));
        this.#onPlayed?.(head.subarray(0, take), now);
        if (take === head.length) this.#queue.shift();
        else this.#queue[0] = head.subarray(take);
        need -= take;
        this.#queued -= take;
        this.#played += take;
      }
    }
    if (this.#queued === 0) {
      this.#playing = false;
      this.#waitingSince = null;
    }
    this.#reportMarks();
  }

  #reportMarks(): void {
    while (this.#marks.length > 0 && this.#marks[0]!.at <= this.#played) {
      this.#onMark({ name: this.#marks.shift()!.name, event: 'playout' });
    }
  }
}
