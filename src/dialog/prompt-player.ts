import type { Logger } from '../log/logger.js';
import type { Tts } from '../speech/types.js';
import type { CallLeg } from '../telephony/port.js';
import { rateConverter } from './audio.js';

/** Longest stretch of synchronous resampling/sending before the player yields to the event loop. */
const SLICE_MS = 4;

/** Speaking rate used to estimate a prompt's full length while TTS is still streaming it (~160 wpm). */
export const ESTIMATED_MS_PER_CHAR = 65;

export interface PlayOptions {
  /** may the caller interrupt it (false for legal notices) */
  bargeIn: boolean;
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

interface ActivePrompt {
  text: string;
  bargeIn: boolean;
  sentSamples: number;
  synthDone: boolean;
  interruptedAt?: number;
  controller: AbortController;
}

export class BargeInAbort extends Error {
  constructor() {
    super('prompt interrupted by the caller');
    this.name = 'BargeInAbort';
  }
}

/** Plays one prompt at a time: TTS → resample to the leg's rate → leg.sendAudio → wait for playout. */
export class PromptPlayer {
  #active: ActivePrompt | null = null;
  readonly #leg: CallLeg;
  readonly #tts: Tts;
  readonly #logger: Logger;

  constructor(leg: CallLeg, tts: Tts, logger: Logger) {
    this.#leg = leg;
    this.#tts = tts;
    this.#logger = logger;
  }

  /** What is playing now, if anything. */
  get active(): { bargeIn: boolean } | null {
    return this.#active && this.#active.interruptedAt === undefined ? { bargeIn: this.#active.bargeIn } : null;
  }

  async play(text: string, opts: PlayOptions): Promise<PlayResult> {
    if (this.#active) throw new Error('PromptPlayer plays one prompt at a time');
    const controller = new AbortController();
    const onAbort = () => controller.abort(opts.signal.reason);
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
    const prompt: ActivePrompt = { text, bargeIn: opts.bargeIn, sentSamples: 0, synthDone: false, controller };
    this.#active = prompt;
    const outRate = this.#leg.outputSampleRate;
    let failed = false;
    try {
      let converter: ReturnType<typeof rateConverter> | undefined;
      let converterRate = 0;
      const send = (pcm: Int16Array) => {
        if (pcm.length === 0 || controller.signal.aborted) return;
        if (prompt.sentSamples === 0) opts.onFirstAudio?.();
        this.#leg.sendAudio(pcm);
        prompt.sentSamples += pcm.length;
      };
      let sliceStart = performance.now();
      for await (const chunk of this.#tts.synthesize(text, { signal: controller.signal })) {
        if (controller.signal.aborted) break;
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
      prompt.synthDone = !controller.signal.aborted;
      if (!controller.signal.aborted) await this.#leg.waitForPlayout(controller.signal);
    } catch (err) {
      if (!controller.signal.aborted) {
        failed = true;
        this.#logger.error({ err, text }, 'text-to-speech failed; prompt skipped');
      }
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
      this.#active = null;
    }
    const result: PlayResult = { sentSamples: prompt.sentSamples };
    if (prompt.interruptedAt !== undefined) result.interruptedAt = prompt.interruptedAt;
    if (failed) result.failed = true;
    return result;
  }

  /**
   * Barge-in, synchronously: drop the leg's queued audio, stop TTS, and note how much was heard.
   * Returns false when nothing interruptible is playing.
   */
  interrupt(force = false): boolean {
    const prompt = this.#active;
    if (!prompt || prompt.interruptedAt !== undefined || (!prompt.bargeIn && !force)) return false;
    const unplayed = this.#leg.clearAudio();
    const played = Math.max(0, prompt.sentSamples - unplayed);
    const estimated = (prompt.text.length * ESTIMATED_MS_PER_CHAR * this.#leg.outputSampleRate) / 1000;
    const total = prompt.synthDone ? prompt.sentSamples : Math.max(prompt.sentSamples, estimated);
    prompt.interruptedAt = total > 0 ? Math.min(1, played / total) : 0;
    prompt.controller.abort(new BargeInAbort());
    return true;
  }
}
