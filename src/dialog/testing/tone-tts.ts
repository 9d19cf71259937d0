import { setTimeout as delay } from 'node:timers/promises';
import type { Tts, TtsChunk, TtsOptions } from '../../speech/types.js';

export interface ToneTtsOptions {
  sampleRate?: number;
  /** speech length per character of text */
  msPerChar?: number;
  chunkMs?: number;
  /** 0 gives silence */
  amplitude?: number;
  /** wait before each chunk (abortable): simulates a slow synthesiser */
  chunkDelayMs?: number;
  /** throw on texts containing this */
  failOn?: string;
}

/** TTS double: a tone (or silence) whose length is proportional to the text. */
export class ToneTts implements Tts {
  readonly spoken: string[] = [];
  active = 0;
  readonly #o: Required<ToneTtsOptions>;

  constructor(opts: ToneTtsOptions = {}) {
    this.#o = {
      sampleRate: opts.sampleRate ?? 16000,
      msPerChar: opts.msPerChar ?? 40,
      chunkMs: opts.chunkMs ?? 100,
      amplitude: opts.amplitude ?? 6000,
      chunkDelayMs: opts.chunkDelayMs ?? 0,
      failOn: opts.failOn ?? '\u0000never',
    };
  }

  /** Samples (at the TTS rate) this double produces for `text`. */
  samplesFor(text: string): number {
    return Math.round((text.length * this.#o.msPerChar * this.#o.sampleRate) / 1000);
  }

  async *synthesize(text: string, options: TtsOptions = {}): AsyncIterable<TtsChunk> {
    this.active++;
    try {
      if (text.includes(this.#o.failOn)) throw new Error(`ToneTts: refusing "${text}"`);
      this.spoken.push(text);
      const { sampleRate, chunkMs, amplitude } = this.#o;
      const total = this.samplesFor(text);
      const per = Math.round((chunkMs * sampleRate) / 1000);
      for (let at = 0; at < total; at += per) {
        options.signal?.throwIfAborted();
        if (this.#o.chunkDelayMs > 0) {
          await delay(this.#o.chunkDelayMs, undefined, options.signal ? { signal: options.signal } : {});
        }
        const n = Math.min(per, total - at);
        const pcm = new Int16Array(n);
        for (let i = 0; i < n; i++)
          pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 300 * (at + i)) / sampleRate));
        yield { pcm, sampleRate };
      }
    } finally {
      this.active--;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
