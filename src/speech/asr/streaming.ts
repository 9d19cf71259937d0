import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { counter, histogram } from '../../core/metrics.js';
import { concatPcm } from '../../media/pcm.js';
import { energyDb } from '../audio.js';
import { AsyncQueue } from '../../core/async-queue.js';
import { whenAborted } from '../../core/waiters.js';
import type { Asr, AsrOptions, AsrResult } from '../types.js';
import type { AsrEngine, Recognition } from './engine.js';

const RATE = 16_000;
const samplesToMs = (n: number) => Math.round((n * 1000) / RATE);
/** Audio this far below the utterance's loudest chunk is a pause, not speech. */
const PAUSE_BELOW_PEAK_DB = 25;
/**
 * After this much quiet the caller has paused: the audio up to here (speech plus this tail, which keeps the
 * decay of the last sound) is recognised at once, so that when the VAD ends the turn (endOfTurnSilenceMs
 * later) the final result is ready or nearly so.
 */
const PAUSE_MS = 160;
const PAUSE_SAMPLES = (PAUSE_MS * RATE) / 1000;

/** A preview recognition of the audio up to `cut` (samples), running or waiting for the engine. */
interface Preview {
  abort: AbortController;
  done: Promise<Recognition | null>;
  cut: number;
}

/**
 * The Asr port over one engine: collects the utterance as it streams in, asks for a partial result about every
 * `partialIntervalMs` of new audio and at each pause (only when the engine has room and no partial is pending),
 * and one final result when the stream ends. Partials that arrive after the final are dropped.
 */
export class StreamingAsr implements Asr {
  readonly #results;
  readonly #seconds;
  readonly #skipped;
  readonly #reused;
  readonly #engine: AsrEngine;
  readonly #opts: { partialIntervalMs: number; language: string; prompt?: string };
  readonly #logger: Logger;

  constructor(
    engine: AsrEngine,
    opts: { partialIntervalMs: number; language: string; prompt?: string },
    logger: Logger,
    metrics: Registry,
  ) {
    this.#engine = engine;
    this.#opts = opts;
    this.#logger = logger;
    this.#results = counter(metrics, 'voicebot_asr_results_total', 'ASR results', ['provider', 'kind', 'outcome']);
    this.#seconds = histogram(
      metrics,
      'voicebot_asr_processing_seconds',
      'ASR recognition time per request',
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      ['provider', 'kind'],
    );
    this.#skipped = counter(metrics, 'voicebot_asr_partials_skipped_total', 'partials skipped: engine busy', [
      'provider',
    ]);
    this.#reused = counter(
      metrics,
      'voicebot_asr_finals_from_pause_total',
      'final results taken from the recognition started when the caller paused',
      ['provider'],
    );
  }

  transcribe(audio: AsyncIterable<Int16Array>, options: AsrOptions = {}): AsyncIterable<AsrResult> {
    return this.#run(audio, options);
  }

  async close(): Promise<void> {
    await this.#engine.close();
  }

  async *#run(audio: AsyncIterable<Int16Array>, options: AsrOptions): AsyncGenerator<AsrResult> {
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const out = new AsyncQueue<AsrResult>();
    const pump = this.#pump(audio, options.prompt ?? this.#opts.prompt, signal, out).then(
      () => out.end(),
      (err: unknown) => out.fail(err),
    );
    try {
      yield* out;
    } finally {
      stop.abort(new Error('transcription abandoned'));
      await pump;
    }
  }

  async #pump(
    audio: AsyncIterable<Int16Array>,
    prompt: string | undefined,
    signal: AbortSignal,
    out: AsyncQueue<AsrResult>,
  ): Promise<void> {
    const chunks: Int16Array[] = [];
    let samples = 0;
    let lastPartialAt = 0;
    let peakDb = 0;
    /** end (samples) of the last chunk loud enough to be speech */
    let lastLoudAt = 0;
    // an object: TypeScript does not narrow fields that callbacks change
    const previews: {
      running: Preview | null;
      /** started at a pause, over the audio up to it: the final result if no speech follows */
      atPause: Preview | null;
    } = { running: null, atPause: null };
    let finalSent = false;
    let due: NodeJS.Immediate | null = null;
    const provider = this.#engine.provider;

    /** `urgent`: a likely final (at a pause), queued like one */
    const started: Preview[] = [];
    const startPartial = (cut: number, urgent: boolean): Preview => {
      const abort = new AbortController();
      const pcm = concatPcm(chunks).subarray(0, cut);
      const done = this.#engine
        .recognize(pcm, { final: false, urgent, prompt, signal: AbortSignal.any([signal, abort.signal]) })
        .then((r) => {
          this.#record('partial', r);
          if (!finalSent) out.push(toResult(r, false, pcm.length));
          return r;
        })
        .catch((err: unknown) => {
          // A partial is only a preview: log it, the final result decides.
          if (!abort.signal.aborted && !signal.aborted) {
            this.#results.inc({ provider, kind: 'partial', outcome: 'error' });
            this.#logger.debug({ err }, 'partial recognition failed');
          }
          return null;
        });
      const preview = { abort, done, cut };
      started.push(preview);
      return preview;
    };

    const iterator = audio[Symbol.asyncIterator]();
    const aborted = whenAborted(signal).then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        signal.throwIfAborted();
        if (next.done) break;
        const chunk = next.value;
        if (!(chunk instanceof Int16Array) || chunk.length === 0) continue;
        chunks.push(chunk);
        samples += chunk.length;
        const db = energyDb(chunk);
        peakDb = Math.max(peakDb, db);
        if (db >= peakDb - PAUSE_BELOW_PEAK_DB) lastLoudAt = samples;
        if (previews.atPause && lastLoudAt + PAUSE_SAMPLES > previews.atPause.cut) {
          // the caller went on: that recognition is only a partial now (dropped if it has not started)
          previews.atPause.abort.abort(new Error('the caller went on after the pause'));
          previews.atPause = null;
        }
        if (!this.#engine.partials) continue;
        if (samples - lastLoudAt >= PAUSE_SAMPLES) {
          // The likely end of the utterance: recognise it now, even if a preview is running or the engine is
          // busy. It is the work the final would do a moment later, queued like a final.
          previews.atPause ??= startPartial(lastLoudAt + PAUSE_SAMPLES, true);
          continue;
        }
        if (previews.running || due || samplesToMs(samples - lastPartialAt) < this.#opts.partialIntervalMs) continue;
        lastPartialAt = samples;
        // Deferred one turn of the event loop: a stream that ends right away (a whole utterance handed over at
        // once) goes straight to the final instead of paying for a partial of the same audio first.
        const cut = samples;
        due = setImmediate(() => {
          due = null;
          if (this.#engine.busy) {
            this.#skipped.inc({ provider });
            return;
          }
          const preview = startPartial(cut, false);
          previews.running = preview;
          void preview.done.finally(() => {
            if (previews.running === preview) previews.running = null;
          });
        });
      }
    } finally {
      if (due) clearImmediate(due);
      // Tell the producer we stopped listening; not awaited (a generator busy elsewhere answers only later).
      if (signal.aborted) void iterator.return?.()?.catch(() => undefined);
    }

    // The final runs on the speech and a short tail, not on the silence the VAD waited through before ending
    // the turn. A recognition of exactly that audio started at the pause is the final; any other preview still
    // waiting for the engine is pointless now (one already running may still arrive first).
    const cut = Math.min(samples, lastLoudAt + PAUSE_SAMPLES);
    const reusable = previews.atPause?.cut === cut ? previews.atPause : null;
    const pending = started.filter((p) => p !== reusable);
    for (const p of pending) p.abort.abort(new Error('superseded by the final result'));
    const pcm = concatPcm(chunks).subarray(0, cut);
    let final: Recognition | null = null;
    if (pcm.length === 0) {
      final = { text: '', confidence: 0, language: this.#opts.language, processingMs: 0, queueMs: 0 };
    } else {
      final = reusable ? await reusable.done : null;
      if (final) {
        this.#reused.inc({ provider });
      } else {
        try {
          final = await this.#engine.recognize(pcm, { final: true, prompt, signal });
        } catch (err) {
          this.#results.inc({ provider, kind: 'final', outcome: 'error' });
          throw err;
        }
        this.#record('final', final);
      }
    }
    signal.throwIfAborted();
    finalSent = true;
    out.push(toResult(final, true, pcm.length));
    await Promise.all(pending.map((p) => p.done));
  }

  #record(kind: 'partial' | 'final', r: Recognition): void {
    this.#results.inc({ provider: this.#engine.provider, kind, outcome: 'ok' });
    this.#seconds.observe({ provider: this.#engine.provider, kind }, r.processingMs / 1000);
  }
}

function toResult(r: Recognition, final: boolean, samples: number): AsrResult {
  return {
    text: r.text,
    confidence: r.confidence,
    language: r.language,
    final,
    timings: {
      audioMs: samplesToMs(samples),
      processingMs: r.processingMs,
      queueMs: r.queueMs,
      ...(r.decodedTokens === undefined ? {} : { decodedTokens: r.decodedTokens }),
    },
  };
}
