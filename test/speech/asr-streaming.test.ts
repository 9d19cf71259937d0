import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AsrEngine, Recognition, RecognizeOptions } from '../../src/speech/asr/engine.js';
import { WorkQueue } from '../../src/speech/asr/queue.js';
import { StreamingAsr } from '../../src/speech/asr/streaming.js';
import type { AsrResult } from '../../src/speech/types.js';
import { silence, whiteNoise } from './helpers.js';

const logger = pino({ level: 'silent' });

/** Recognises instantly (text = the sample count it got) and records every request. */
class RecordingEngine implements AsrEngine {
  readonly provider = 'fake';
  readonly busy: boolean = false;
  readonly requests: Array<{ samples: number; final: boolean }> = [];
  constructor(readonly partials = true) {}
  async recognize(pcm16k: Int16Array, options: RecognizeOptions): Promise<Recognition> {
    options.signal?.throwIfAborted();
    this.requests.push({ samples: pcm16k.length, final: options.final });
    await nextTurn();
    return { text: `n=${pcm16k.length}`, confidence: 0.9, language: 'en', processingMs: 5, queueMs: 0 };
  }
  async close(): Promise<void> {}
}

/** 20 ms chunks of `pcm`, one per turn of the event loop (as frames arrive from a call). */
async function* live(...parts: Int16Array[]): AsyncGenerator<Int16Array> {
  for (const part of parts) {
    for (let i = 0; i < part.length; i += 320) {
      yield part.subarray(i, i + 320);
      await nextTurn();
    }
  }
}

const speech = (ms: number) => whiteNoise(ms, 8000, 16_000, 3);

async function transcribe(engine: AsrEngine, audio: AsyncIterable<Int16Array>, metrics = new Registry()) {
  const asr = new StreamingAsr(engine, { partialIntervalMs: 500, language: 'en' }, logger, metrics);
  const results: AsrResult[] = [];
  for await (const r of asr.transcribe(audio)) results.push(r);
  return results;
}

describe('StreamingAsr: the final result as early as possible, on the speech only', () => {
  it('recognises the audio up to a pause at once and takes it as the final when the caller said no more', async () => {
    const engine = new RecordingEngine();
    const metrics = new Registry();
    const results = await transcribe(engine, live(speech(1000), silence(600)), metrics);
    const final = results.at(-1)!;
    expect(final.final).toBe(true);
    // 1000 ms of speech and the 160 ms pause that showed it had stopped; the rest of the silence is left out
    expect(final.timings.audioMs).toBe(1160);
    expect(final.text).toBe(`n=${1160 * 16}`);
    expect(engine.requests.filter((r) => r.final)).toEqual([]);
    expect(engine.requests.filter((r) => r.samples === 1160 * 16)).toHaveLength(1);
    expect(await metrics.metrics()).toMatch(/voicebot_asr_finals_from_pause_total\{provider="fake"\} 1/);
  });

  it('recognises at the pause even when the engine is too busy for previews', async () => {
    const engine = new (class extends RecordingEngine {
      override readonly busy = true;
    })();
    const results = await transcribe(engine, live(speech(1200), silence(600)));
    // no interval partials (busy), but the pause recognition ran and became the final
    expect(engine.requests).toEqual([{ samples: 1360 * 16, final: false }]);
    expect(results.filter((r) => r.final).map((r) => r.timings.audioMs)).toEqual([1360]);
  });

  it('recognises again when the caller goes on after a pause', async () => {
    const engine = new RecordingEngine();
    const results = await transcribe(engine, live(speech(1000), silence(300), speech(500), silence(400)));
    const final = results.at(-1)!;
    expect(final.timings.audioMs).toBe(1000 + 300 + 500 + 160);
    // the first pause was recognised too, but that result is only a partial
    expect(engine.requests.some((r) => r.samples === 1160 * 16)).toBe(true);
    expect(results.filter((r) => r.final)).toHaveLength(1);
  });

  it('gives a provider without partials only the speech and a short tail', async () => {
    const engine = new RecordingEngine(false);
    const results = await transcribe(engine, live(speech(1000), silence(600)));
    expect(engine.requests).toEqual([{ samples: 1160 * 16, final: true }]);
    expect(results).toHaveLength(1);
  });

  it('keeps every sample of a stream that never pauses', async () => {
    const engine = new RecordingEngine(false);
    await transcribe(engine, live(speech(700)));
    expect(engine.requests).toEqual([{ samples: 700 * 16, final: true }]);
  });
});

describe('WorkQueue: finals before previews', () => {
  it('starts an urgent job before normal jobs that waited longer', async () => {
    const queue = new WorkQueue(1, 10, 'test');
    const order: string[] = [];
    let release!: () => void;
    const first = queue.run(() => new Promise<void>((r) => (release = r)));
    const normal = queue.run(async () => order.push('preview'));
    const urgent = queue.run(async () => order.push('final'), undefined, true);
    const urgent2 = queue.run(async () => order.push('final 2'), undefined, true);
    release();
    await Promise.all([first, normal, urgent, urgent2]);
    expect(order).toEqual(['final', 'final 2', 'preview']);
  });

  it('keeps the last free slot for urgent jobs when it has more than one', async () => {
    const two = new WorkQueue(2, 10, 'test');
    expect(two.wouldCrowd(1)).toBe(false);
    let release!: () => void;
    const running = two.run(() => new Promise<void>((r) => (release = r)));
    expect(two.wouldCrowd(1)).toBe(true); // one slot left: a final's
    expect(two.wouldCrowd(0)).toBe(false);
    release();
    await running;
    const one = new WorkQueue(1, 10, 'test');
    expect(one.wouldCrowd(1)).toBe(false); // a single slot cannot be kept back
  });
});
