import { EchoPath, type EchoPathOptions } from '../../src/media/echo-path.js';

/**
 * A caller's phone line that echoes, for emulators and drivers whose caller streams on its own clock: from `start()`
 * on, one 20 ms frame every 20 ms (absolute clock, as a phone or a media server sends), carrying the echo of what the
 * caller heard (src/media/echo-path.ts) mixed with whatever the caller says (`say`). What the caller hears goes in
 * with `heard`, when it is heard.
 */
export class EchoLine {
  readonly #echo: EchoPath;
  readonly #frame: number;
  readonly #send: (frame: Int16Array) => void;
  /** called before each frame is built, with the line time (performance.now()) it stands for */
  readonly #beforeFrame: ((at: number) => void) | undefined;
  readonly #queue: Int16Array[] = [];
  #drained: Array<() => void> = [];
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** performance.now() of line time 0; null before start() */
  #start: number | null = null;
  readonly #rate: number;

  constructor(opts: EchoPathOptions, send: (frame: Int16Array) => void, beforeFrame?: (at: number) => void) {
    this.#echo = new EchoPath(opts);
    this.#frame = (opts.sampleRate * 20) / 1000;
    this.#rate = opts.sampleRate;
    this.#send = send;
    this.#beforeFrame = beforeFrame;
  }

  /**
   * Bot audio as the caller heard it, in order (at the line's rate). `at`: when it played (performance.now()), for
   * a peer that plays out on its own clock: the echo then keeps that time whichever timer ran first after a stall.
   */
  heard(pcm: Int16Array, at?: number): void {
    if (at === undefined || this.#start === null) return this.#echo.pushBot(pcm);
    this.#echo.pushBotAt(pcm, Math.round(((at - this.#start) * this.#rate) / 1000));
  }

  /** The caller talks: `pcm` (at the line's rate) rides on the next frames; resolves once all of it went out. */
  say(pcm: Int16Array): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#queue.push(pcm);
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  start(): void {
    const start = performance.now();
    this.#start = start;
    let n = 0;
    const tick = () => {
      if (this.#stopped) return;
      for (const due = Math.floor((performance.now() - start) / 20); n <= due; n++) {
        this.#beforeFrame?.(start + n * 20);
        this.#send(this.#echo.take(this.#frame, this.#own()));
      }
      this.#timer = setTimeout(tick, Math.max(1, start + n * 20 - performance.now()));
    };
    tick();
  }

  /** The call is over: no more frames; whoever waits on `say` is let go. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const resolve of this.#drained.splice(0)) resolve();
  }

  /** The caller's own audio for the next frame (silence when quiet). */
  #own(): Int16Array {
    const own = new Int16Array(this.#frame);
    let filled = 0;
    while (filled < this.#frame && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const take = Math.min(this.#frame - filled, head.length);
      own.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) {
        this.#queue.shift();
        if (this.#queue.length === 0) for (const resolve of this.#drained.splice(0)) resolve();
      } else this.#queue[0] = head.subarray(take);
    }
    return own;
  }
}
