import { setTimeout as delay } from 'node:timers/promises';
import type { Asr, AsrOptions, AsrResult } from '../../speech/types.js';

export type ScriptedUtterance =
  | string
  | {
      text: string;
      confidence?: number;
      /** time to "recognise" after the audio ends (abortable) */
      delayMs?: number;
      /** throw this instead of answering */
      error?: string;
    };

/**
 * Answers each utterance with the next scripted text, in order. An utterance that is cancelled
 * (aborted) does not use up a script entry. Past the end of the script it answers "".
 */
export class ScriptedAsr implements Asr {
  readonly #script: ScriptedUtterance[];
  /** texts answered so far, with the audio each one got */
  readonly heard: Array<{ text: string; audioMs: number }> = [];
  /** transcriptions in flight (a leak check) */
  active = 0;
  calls = 0;
  closed = false;

  readonly #opts: { confidence?: number; partials?: boolean; sampleRate?: number };

  constructor(
    script: ScriptedUtterance[],
    opts: { confidence?: number; partials?: boolean; sampleRate?: number } = {},
  ) {
    this.#opts = opts;
    this.#script = [...script];
  }

  get remaining(): number {
    return this.#script.length;
  }

  async *transcribe(audio: AsyncIterable<Int16Array>, options: AsrOptions = {}): AsyncIterable<AsrResult> {
    this.calls++;
    this.active++;
    const t0 = performance.now();
    const rate = this.#opts.sampleRate ?? 16000;
    try {
      let samples = 0;
      let partialSent = false;
      for await (const chunk of audio) {
        options.signal?.throwIfAborted();
        samples += chunk.length;
        if (this.#opts.partials && !partialSent && this.#script.length > 0) {
          partialSent = true;
          const next = this.#script[0]!;
          const text = typeof next === 'string' ? next : next.text;
          yield this.#result(text.split(' ')[0] ?? '', 0.5, false, samples, rate, t0);
        }
      }
      options.signal?.throwIfAborted();
      const entry = this.#script[0] ?? '';
      const e = typeof entry === 'string' ? { text: entry } : entry;
      if (e.delayMs) await delay(e.delayMs, undefined, options.signal ? { signal: options.signal } : {});
      options.signal?.throwIfAborted();
      this.#script.shift();
      if (e.error) throw new Error(e.error);
      this.heard.push({ text: e.text, audioMs: (samples * 1000) / rate });
      yield this.#result(e.text, e.confidence ?? this.#opts.confidence ?? 0.9, true, samples, rate, t0);
    } finally {
      this.active--;
    }
  }

  #result(text: string, confidence: number, final: boolean, samples: number, rate: number, t0: number): AsrResult {
    return {
      text,
      confidence,
      language: 'en',
      final,
      timings: { audioMs: (samples * 1000) / rate, processingMs: performance.now() - t0, queueMs: 0 },
    };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
