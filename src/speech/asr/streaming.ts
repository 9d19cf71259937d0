import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { counter, histogram } from '../../core/metrics.js';
import { concatPcm } from '../audio.js';
import { Channel, abortPromise } from '../channel.js';
import type { Asr, AsrOptions, AsrResult } from '../types.js';
import type { AsrEngine, Recognition } from './engine.js';

const RATE = 16_000;
const samplesToMs = (n: number) => Math.round((n * 1000) / RATE);

/**
 * The Asr port over one engine: collects the utterance as it streams in, asks for a partial result about every
 * `partialIntervalMs` of new audio (only when the engine is idle and no partial is pending), and one final
 * result when the stream ends. Partials that arrive after the final are dropped.
 */
export class StreamingAsr implements Asr {
  private readonly results;
  private readonly seconds;
  private readonly skipped;

  constructor(
    private readonly engine: AsrEngine,
    private readonly opts: { partialIntervalMs: number; language: string; prompt?: string },
    private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.results = counter(metrics, 'voicebot_asr_results_total', 'ASR results', ['provider', 'kind', 'outcome']);
    this.seconds = histogram(
      metrics,
      'voicebot_asr_processing_seconds',
      'ASR recognition time per request',
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      ['provider', 'kind'],
    );
    this.skipped = counter(metrics, 'voicebot_asr_partials_skipped_total', 'partials skipped: engine busy', [
      'provider',
    ]);
  }

  transcribe(audio: AsyncIterable<Int16Array>, options: AsrOptions = {}): AsyncIterable<AsrResult> {
    return this.run(audio, options);
  }

  async close(): Promise<void> {
    await this.engine.close();
  }

  private async *run(audio: AsyncIterable<Int16Array>, options: AsrOptions): AsyncGenerator<AsrResult> {
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const out = new Channel<AsrResult>();
    const pump = this.pump(audio, options.prompt ?? this.opts.prompt, signal, out).then(
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

  private async pump(
    audio: AsyncIterable<Int16Array>,
    prompt: string | undefined,
    signal: AbortSignal,
    out: Channel<AsrResult>,
  ): Promise<void> {
    const chunks: Int16Array[] = [];
    let samples = 0;
    let lastPartialAt = 0;
    let partial: { abort: AbortController; done: Promise<void> } | null = null;
    let finalSent = false;
    let due: NodeJS.Immediate | null = null;
    const provider = this.engine.provider;

    const startPartial = () => {
      const abort = new AbortController();
      const pcm = concatPcm(chunks);
      const done = this.engine
        .recognize(pcm, { final: false, prompt, signal: AbortSignal.any([signal, abort.signal]) })
        .then((r) => {
          this.record('partial', r);
          if (!finalSent) out.push(toResult(r, false, pcm.length));
        })
        .catch((err: unknown) => {
          // A partial is only a preview: log it, the final result decides.
          if (!abort.signal.aborted && !signal.aborted) {
            this.results.inc({ provider, kind: 'partial', outcome: 'error' });
            this.logger.debug({ err }, 'partial recognition failed');
          }
        })
        .finally(() => {
          if (partial?.done === done) partial = null;
        });
      partial = { abort, done };
    };

    const iterator = audio[Symbol.asyncIterator]();
    const aborted = abortPromise(signal).then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        signal.throwIfAborted();
        if (next.done) break;
        const chunk = next.value;
        if (!(chunk instanceof Int16Array) || chunk.length === 0) continue;
        chunks.push(chunk);
        samples += chunk.length;
        if (
          !this.engine.partials ||
          partial ||
          due ||
          samplesToMs(samples - lastPartialAt) < this.opts.partialIntervalMs
        ) {
          continue;
        }
        lastPartialAt = samples;
        // Deferred one turn of the event loop: a stream that ends right away (a whole utterance handed over at
        // once) goes straight to the final instead of paying for a partial of the same audio first.
        due = setImmediate(() => {
          due = null;
          if (this.engine.busy) this.skipped.inc({ provider });
          else startPartial();
        });
      }
    } finally {
      if (due) clearImmediate(due);
      // Tell the producer we stopped listening; not awaited (a generator busy elsewhere answers only later).
      if (signal.aborted) void iterator.return?.()?.catch(() => undefined);
    }

    // A partial still waiting for the engine is pointless now; one already running may still arrive first.
    const pending = partial as { abort: AbortController; done: Promise<void> } | null;
    pending?.abort.abort(new Error('superseded by the final result'));
    const pcm = concatPcm(chunks);
    let final: Recognition;
    if (pcm.length === 0) {
      final = { text: '', confidence: 0, language: this.opts.language, processingMs: 0, queueMs: 0 };
    } else {
      try {
        final = await this.engine.recognize(pcm, { final: true, prompt, signal });
      } catch (err) {
        this.results.inc({ provider, kind: 'final', outcome: 'error' });
        throw err;
      }
      this.record('final', final);
    }
    finalSent = true;
    out.push(toResult(final, true, pcm.length));
    await pending?.done;
  }

  private record(kind: 'partial' | 'final', r: Recognition): void {
    this.results.inc({ provider: this.engine.provider, kind, outcome: 'ok' });
    this.seconds.observe({ provider: this.engine.provider, kind }, r.processingMs / 1000);
  }
}

function toResult(r: Recognition, final: boolean, samples: number): AsrResult {
  return {
    text: r.text,
    confidence: r.confidence,
    language: r.language,
    final,
    timings: { audioMs: samplesToMs(samples), processingMs: r.processingMs, queueMs: r.queueMs },
  };
}
