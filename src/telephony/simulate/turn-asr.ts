import type { Asr, AsrOptions, AsrResult, AsrTimings } from '../../speech/types.js';

/** What the dialog hears for the current caller turn. */
export type TurnText =
  /** run the real recogniser and pass its result on */
  | { mode: 'asr' }
  /** skip recognition: the given text is the caller's turn (simulate --text) */
  | { mode: 'inject'; text: string }
  /** run the real recogniser (timed), then hand the dialog the reference text instead (bench on a stub model) */
  | { mode: 'substitute'; text: string };

export interface TurnAsrResult {
  turn: number;
  source: 'asr' | 'injected' | 'substituted';
  /** text the dialog received */
  text: string;
  /** text the recogniser produced (null when it did not run) */
  recognised: string | null;
  confidence: number;
  timings: AsrTimings;
  /** wall time from the end of the utterance's audio stream to the final result, ms */
  finalAfterEndMs: number;
  /** performance.now() when the final result came */
  at: number;
}

/**
 * Wraps the real Asr for simulated calls: per turn it runs recognition, injects a scripted text, or
 * substitutes a reference text after running recognition. Every final result is recorded with its timings.
 */
export class TurnAsr implements Asr {
  readonly results: TurnAsrResult[] = [];
  #turn = -1;
  #plan: TurnText = { mode: 'asr' };
  #consumed = false;
  /** recognitions whose audio has ended and whose final result is not out yet */
  #awaitingFinal = 0;
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly inner: Asr,
    private readonly onResult?: (result: TurnAsrResult) => void,
  ) {}

  /** Called before the turn's audio is fed. */
  setTurn(turn: number, plan: TurnText): void {
    this.#turn = turn;
    this.#plan = plan;
    this.#consumed = false;
  }

  /** true while an utterance has ended and its recognition is still running (the dialog has not heard it yet) */
  busy(): boolean {
    return this.#awaitingFinal > 0;
  }

  /** `cb` runs whenever busy() may have changed; returns an unsubscribe. */
  onActivity(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  #setAwaiting(delta: number): void {
    this.#awaitingFinal += delta;
    for (const cb of this.#listeners) cb();
  }

  async *transcribe(audio: AsyncIterable<Int16Array>, options?: AsrOptions): AsyncIterable<AsrResult> {
    const ended = { at: 0, settled: false };
    const settle = () => {
      if (ended.at > 0 && !ended.settled) {
        ended.settled = true;
        this.#setAwaiting(-1);
      }
    };
    try {
      yield* this.#transcribe(
        trackEnd(audio, ended, () => this.#setAwaiting(1)),
        ended,
        settle,
        options,
      );
    } finally {
      settle();
    }
  }

  async *#transcribe(
    tracked: AsyncIterable<Int16Array>,
    ended: { at: number },
    settle: () => void,
    options?: AsrOptions,
  ): AsyncIterable<AsrResult> {
    const turn = this.#turn;
    // One scripted text per turn; extra utterances within the turn (a pause in a clip) go to the recogniser.
    const plan = this.#consumed ? ({ mode: 'asr' } as const) : this.#plan;
    if (plan.mode !== 'asr') this.#consumed = true;

    if (plan.mode === 'inject') {
      let samples = 0;
      for await (const chunk of tracked) samples += chunk.length;
      const timings = { audioMs: Math.round(samples / 16), processingMs: 0, queueMs: 0 };
      this.#record({
        turn,
        source: 'injected',
        text: plan.text,
        recognised: null,
        confidence: 1,
        timings,
        finalAfterEndMs: performance.now() - ended.at,
        at: performance.now(),
      });
      settle();
      yield { text: plan.text, confidence: 1, language: 'en', final: true, timings };
      return;
    }

    for await (const result of this.inner.transcribe(tracked, options)) {
      if (!result.final) {
        if (plan.mode === 'asr') yield result;
        continue;
      }
      const text = plan.mode === 'substitute' ? plan.text : result.text;
      const confidence = plan.mode === 'substitute' ? 1 : result.confidence;
      this.#record({
        turn,
        source: plan.mode === 'substitute' ? 'substituted' : 'asr',
        text,
        recognised: result.text,
        confidence: result.confidence,
        timings: result.timings,
        finalAfterEndMs: performance.now() - ended.at,
        at: performance.now(),
      });
      settle();
      yield { ...result, text, confidence };
    }
  }

  #record(result: TurnAsrResult): void {
    this.results.push(result);
    this.onResult?.(result);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Pass audio through, noting when the stream ended. */
async function* trackEnd(
  audio: AsyncIterable<Int16Array>,
  ended: { at: number },
  onEnd: () => void,
): AsyncIterable<Int16Array> {
  for await (const chunk of audio) yield chunk;
  ended.at = performance.now();
  onEnd();
}
