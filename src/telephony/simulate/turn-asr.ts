import type { Asr, AsrOptions, AsrResult, AsrTimings } from '../../speech/types.js';

/** What the dialog hears for the current caller turn. */
export type TurnText =
  /** run the real recogniser and pass its result on */
  | { mode: 'asr' }
  /** skip recognition: the given text is the caller's turn (simulate --text) */
  | { mode: 'inject'; text: string }
  /** run the real recogniser (timed), then hand the dialog the reference text instead (bench on a model that recognises no words) */
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

export interface TurnAsrOptions {
  onResult?: (result: TurnAsrResult) => void;
  /**
   * Is some of the current turn's audio still waiting to go down the line? An utterance that ends while it is
   * (a pause inside a clip) is not the turn's last, so it goes to the recogniser; the scripted text goes with
   * the turn's last utterance. Default: every utterance counts as the last.
   */
  callerAudioPending?: () => boolean;
}

interface Utterance {
  turn: number;
  /** performance.now() when its audio stream ended (0 while open) */
  endedAt: number;
  /** decided when the stream ends: the turn's last utterance, and its text is still unused */
  scripted: boolean;
  settled: boolean;
}

/**
 * Wraps the real Asr for simulated calls: per turn it runs recognition, injects a scripted text, or
 * substitutes a reference text after running recognition. Every final result is recorded with its timings,
 * and busy() tells a driver in accelerated time that a finished utterance is still being recognised.
 */
export class TurnAsr implements Asr {
  readonly results: TurnAsrResult[] = [];
  #turn = -1;
  #plan: TurnText = { mode: 'asr' };
  #used = false;
  /** recognitions whose audio has ended and whose final result is not out yet */
  #awaitingFinal = 0;
  readonly #listeners = new Set<() => void>();
  readonly #inner: Asr;
  readonly #opts: TurnAsrOptions;

  constructor(inner: Asr, opts: TurnAsrOptions = {}) {
    this.#inner = inner;
    this.#opts = opts;
  }

  /** Called before the turn's audio is fed. */
  setTurn(turn: number, plan: TurnText): void {
    this.#turn = turn;
    this.#plan = plan;
    this.#used = false;
  }

  busy(): boolean {
    return this.#awaitingFinal > 0;
  }

  /** `cb` runs whenever busy() may have changed; returns an unsubscribe. */
  onActivity(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  async *transcribe(audio: AsyncIterable<Int16Array>, options?: AsrOptions): AsyncIterable<AsrResult> {
    const plan = this.#plan;
    const u: Utterance = { turn: this.#turn, endedAt: 0, scripted: false, settled: false };
    const onEnd = () => {
      u.endedAt = performance.now();
      u.scripted = plan.mode !== 'asr' && !this.#used && !(this.#opts.callerAudioPending?.() ?? false);
      if (u.scripted) this.#used = true;
      this.#changeAwaiting(1);
    };
    try {
      if (plan.mode === 'inject') {
        // hold the audio until the stream ends: only then is it known whether this utterance gets the text
        const chunks: Int16Array[] = [];
        for await (const chunk of audio) chunks.push(chunk);
        onEnd();
        if (u.scripted) {
          yield this.#injected(u, plan.text, chunks);
          return;
        }
        yield* this.#recognise(u, plan, replay(chunks), options);
        return;
      }
      yield* this.#recognise(u, plan, trackEnd(audio, onEnd), options);
    } finally {
      this.#settle(u);
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #injected(u: Utterance, text: string, chunks: Int16Array[]): AsrResult {
    const samples = chunks.reduce((n, c) => n + c.length, 0);
    const timings = { audioMs: Math.round(samples / 16), processingMs: 0, queueMs: 0 };
    this.#record(u, { source: 'injected', text, recognised: null, confidence: 1, timings });
    return { text, confidence: 1, language: 'en', final: true, timings };
  }

  async *#recognise(
    u: Utterance,
    plan: TurnText,
    audio: AsyncIterable<Int16Array>,
    options?: AsrOptions,
  ): AsyncIterable<AsrResult> {
    for await (const result of this.#inner.transcribe(audio, options)) {
      if (!result.final) {
        if (plan.mode === 'asr') yield result;
        continue;
      }
      const substitute = u.scripted && plan.mode === 'substitute';
      const text = substitute ? plan.text : result.text;
      const confidence = substitute ? 1 : result.confidence;
      this.#record(u, {
        source: substitute ? 'substituted' : 'asr',
        text,
        recognised: result.text,
        confidence: result.confidence,
        timings: result.timings,
      });
      yield { ...result, text, confidence };
    }
  }

  #record(u: Utterance, r: Omit<TurnAsrResult, 'turn' | 'finalAfterEndMs' | 'at'>): void {
    const at = performance.now();
    const result: TurnAsrResult = { turn: u.turn, ...r, finalAfterEndMs: u.endedAt ? at - u.endedAt : 0, at };
    this.results.push(result);
    this.#settle(u);
    this.#opts.onResult?.(result);
  }

  #settle(u: Utterance): void {
    if (u.endedAt === 0 || u.settled) return;
    u.settled = true;
    this.#changeAwaiting(-1);
  }

  #changeAwaiting(delta: number): void {
    this.#awaitingFinal += delta;
    for (const cb of this.#listeners) cb();
  }
}

/** Pass audio through, calling `onEnd` when the stream ends. */
async function* trackEnd(audio: AsyncIterable<Int16Array>, onEnd: () => void): AsyncIterable<Int16Array> {
  for await (const chunk of audio) yield chunk;
  onEnd();
}

async function* replay(chunks: readonly Int16Array[]): AsyncIterable<Int16Array> {
  for (const chunk of chunks) yield chunk;
}
