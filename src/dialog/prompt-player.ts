import type { Logger } from '../log/logger.js';
import type { Tts } from '../speech/types.js';
import type { CallLeg } from '../telephony/port.js';
import { rateConverter } from './audio.js';
import { playedPrefix, unplayedRest } from './transcript.js';

/** Longest stretch of synchronous resampling/sending before the player yields to the event loop. */
const SLICE_MS = 4;

/** Speaking rate used to estimate a prompt's full length while TTS is still streaming it (~160 wpm). */
export const ESTIMATED_MS_PER_CHAR = 65;

/**
 * How much a prompt matters. `high` (legal notice, transfer message, goodbye) takes over from a `normal` prompt
 * still playing; a `normal` prompt never cuts a `high` one short.
 */
export type PromptPriority = 'normal' | 'high';

export interface SayOptions {
  /** may the caller interrupt it (false for legal notices) */
  allowInterruptions: boolean;
  /** default `normal` */
  priority?: PromptPriority;
  signal: AbortSignal;
  /** called once with the first audio handed to the leg (latency metric) */
  onFirstAudio?: () => void;
}

export interface PlayResult {
  /** fraction of the prompt's audio the caller heard before barge-in; undefined when played in full */
  interruptedAt?: number;
  /** samples handed to the leg at its output rate */
  sentSamples: number;
  /** TTS failed: nothing or only part was said */
  failed?: boolean;
}

export class BargeInAbort extends Error {
  constructor() {
    super('prompt interrupted by the caller');
    this.name = 'BargeInAbort';
  }
}

let nextHandleId = 1;

/**
 * One prompt being spoken: interrupt it, ask what the caller heard, wait for it to finish. Made by
 * `PromptPlayer.say`; it plays at once (one prompt at a time per call).
 */
export class SpeechHandle {
  readonly id = nextHandleId++;
  readonly text: string;
  readonly priority: PromptPriority;
  readonly allowInterruptions: boolean;
  /** Resolves when the prompt played out, was interrupted or failed; never rejects. */
  readonly done: Promise<PlayResult>;

  #sentSamples = 0;
  #synthDone = false;
  #interruptedAt: number | undefined;
  #ended = false;
  readonly #leg: CallLeg;
  /** aborted by an interruption or the call's signal: stops TTS and the wait for playout */
  readonly #controller = new AbortController();

  constructor(leg: CallLeg, text: string, opts: SayOptions, run: (handle: SpeechHandle) => Promise<PlayResult>) {
    this.#leg = leg;
    this.text = text;
    this.priority = opts.priority ?? 'normal';
    this.allowInterruptions = opts.allowInterruptions;
    this.done = run(this).finally(() => {
      this.#ended = true;
    });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** samples handed to the leg at its output rate */
  get sentSamples(): number {
    return this.#sentSamples;
  }

  /** The player handed `samples` more to the leg. */
  noteSent(samples: number): void {
    this.#sentSamples += samples;
  }

  /** TTS produced the whole prompt: its length is known, no longer estimated. */
  noteSynthDone(): void {
    this.#synthDone = true;
  }

  /** Stop producing audio (the call's signal fired). */
  abort(reason: unknown): void {
    this.#controller.abort(reason);
  }

  /** Still playing (not played out, interrupted or failed). */
  get playing(): boolean {
    return !this.#ended && this.#interruptedAt === undefined;
  }

  get interrupted(): boolean {
    return this.#interruptedAt !== undefined;
  }

  /** Fraction of the prompt's audio heard before the interruption; undefined unless interrupted. */
  get interruptedAt(): number | undefined {
    return this.#interruptedAt;
  }

  /** The words the caller heard: all of them once played out, those played before an interruption otherwise. */
  heard(): string {
    if (this.#interruptedAt !== undefined) return playedPrefix(this.text, this.#interruptedAt);
    return this.#ended ? this.text : '';
  }

  /** The words the caller has not heard yet: what to say when resuming after a false interruption. */
  rest(): string {
    if (this.#interruptedAt !== undefined) return unplayedRest(this.text, this.#interruptedAt);
    return this.#ended ? '' : this.text;
  }

  /**
   * Barge-in, synchronously: drop the leg's queued audio, stop TTS, and note how much was heard.
   * Returns false when the prompt is over or may not be interrupted (unless `force`).
   */
  interrupt(force = false): boolean {
    if (!this.playing || (!this.allowInterruptions && !force)) return false;
    const unplayed = this.#leg.clearAudio();
    const played = Math.max(0, this.#sentSamples - unplayed);
    const estimated = (this.text.length * ESTIMATED_MS_PER_CHAR * this.#leg.outputSampleRate) / 1000;
    const total = this.#synthDone ? this.#sentSamples : Math.max(this.#sentSamples, estimated);
    this.#interruptedAt = total > 0 ? Math.min(1, played / total) : 0;
    this.#controller.abort(new BargeInAbort());
    return true;
  }
}

/** Plays one prompt at a time: TTS → resample to the leg's rate → leg.sendAudio → wait for playout. */
export class PromptPlayer {
  #current: SpeechHandle | null = null;
  readonly #leg: CallLeg;
  readonly #tts: Tts;
  readonly #logger: Logger;

  constructor(leg: CallLeg, tts: Tts, logger: Logger) {
    this.#leg = leg;
    this.#tts = tts;
    this.#logger = logger;
  }

  /** The prompt playing now, if any. */
  get current(): SpeechHandle | null {
    return this.#current?.playing ? this.#current : null;
  }

  /**
   * Start speaking `text`. A `high` prompt takes over from a `normal` one still playing (it is interrupted, forced);
   * otherwise only one prompt plays at a time.
   */
  say(text: string, opts: SayOptions): SpeechHandle {
    const current = this.current;
    if (current) {
      if (current.priority === 'normal' && opts.priority === 'high') current.interrupt(true);
      else throw new Error('PromptPlayer plays one prompt at a time');
    }
    const handle = new SpeechHandle(this.#leg, text, opts, (h) => this.#play(h, opts));
    this.#current = handle;
    return handle;
  }

  /** Interrupt the prompt playing now; false when none is playing or it may not be interrupted (unless `force`). */
  interrupt(force = false): boolean {
    return this.current?.interrupt(force) ?? false;
  }

  async #play(handle: SpeechHandle, opts: SayOptions): Promise<PlayResult> {
    const { signal } = handle;
    const onAbort = () => handle.abort(opts.signal.reason);
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
    const outRate = this.#leg.outputSampleRate;
    let failed = false;
    try {
      // the handle is returned before any audio is produced: the caller may interrupt or await it first
      await Promise.resolve();
      let converter: ReturnType<typeof rateConverter> | undefined;
      let converterRate = 0;
      const send = (pcm: Int16Array) => {
        if (pcm.length === 0 || signal.aborted) return;
        if (handle.sentSamples === 0) opts.onFirstAudio?.();
        this.#leg.sendAudio(pcm);
        handle.noteSent(pcm.length);
      };
      let sliceStart = performance.now();
      for await (const chunk of this.#tts.synthesize(handle.text, { signal })) {
        if (signal.aborted) break;
        if (!converter || converterRate !== chunk.sampleRate) {
          if (converter) send(converter.flush());
          converter = rateConverter(chunk.sampleRate, outRate);
          converterRate = chunk.sampleRate;
        }
        send(converter.process(chunk.pcm));
        // A sentence synthesized ahead arrives all at once and its chunks would be resampled in one tick: give the
        // event loop (every call's pacer and RTP) a turn between slices. Same audio, spread over ticks.
        if (performance.now() - sliceStart > SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
      if (converter) send(converter.flush());
      if (!signal.aborted) handle.noteSynthDone();
      if (!signal.aborted) await this.#leg.waitForPlayout(signal);
    } catch (err) {
      if (!signal.aborted) {
        failed = true;
        this.#logger.error({ err, text: handle.text }, 'text-to-speech failed; prompt skipped');
      }
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      if (this.#current === handle) this.#current = null;
    }
    const result: PlayResult = { sentSamples: handle.sentSamples };
    if (handle.interruptedAt !== undefined) result.interruptedAt = handle.interruptedAt;
    if (failed) result.failed = true;
    return result;
  }
}
