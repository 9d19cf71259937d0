import { concatPcm } from '../../media/pcm.js';
import type { Vad, VadEvent, VadFactory } from '../../speech/types.js';

export interface EnergyVadOptions {
  /** RMS above which a 16 kHz chunk counts as speech */
  threshold?: number;
  minSpeechMs?: number;
  endOfTurnSilenceMs?: number;
  interruptionMs?: number;
  preRollMs?: number;
}

/** Deterministic VAD on signal energy, with the same events and timing rules as the real one. */
export class EnergyVad implements Vad {
  readonly #o: Required<EnergyVadOptions>;
  #fedMs = 0;
  #speaking = false;
  #speechRunMs = 0;
  #silenceRunMs = 0;
  #startMs = 0;
  #interrupted = false;
  #history: Array<{ atMs: number; pcm: Int16Array }> = [];
  closed = false;

  constructor(opts: EnergyVadOptions = {}) {
    this.#o = {
      threshold: opts.threshold ?? 300,
      minSpeechMs: opts.minSpeechMs ?? 60,
      endOfTurnSilenceMs: opts.endOfTurnSilenceMs ?? 300,
      interruptionMs: opts.interruptionMs ?? 100,
      preRollMs: opts.preRollMs ?? 100,
    };
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  push(pcm16k: Int16Array): VadEvent[] {
    if (this.closed || pcm16k.length === 0) return [];
    const events: VadEvent[] = [];
    const ms = pcm16k.length / 16;
    const atChunk = this.#fedMs;
    this.#fedMs += ms;
    this.#history.push({ atMs: atChunk, pcm: pcm16k });
    let sum = 0;
    for (const s of pcm16k) sum += s * s;
    const voiced = Math.sqrt(sum / pcm16k.length) >= this.#o.threshold;
    if (voiced) {
      this.#silenceRunMs = 0;
      this.#speechRunMs += ms;
      if (!this.#speaking && this.#speechRunMs >= this.#o.minSpeechMs) {
        this.#speaking = true;
        this.#interrupted = false;
        this.#startMs = this.#fedMs - this.#speechRunMs;
        events.push({ type: 'speechStart', atMs: this.#fedMs });
      }
      if (this.#speaking && !this.#interrupted && this.#fedMs - this.#startMs >= this.#o.interruptionMs) {
        this.#interrupted = true;
        events.push({ type: 'interruption', atMs: this.#fedMs });
      }
    } else {
      this.#silenceRunMs += ms;
      if (!this.#speaking) this.#speechRunMs = 0;
      if (this.#speaking && this.#silenceRunMs >= this.#o.endOfTurnSilenceMs) {
        this.#speaking = false;
        this.#speechRunMs = 0;
        const from = this.#startMs - this.#o.preRollMs;
        const audio = this.#history.filter((h) => h.atMs >= from).map((h) => h.pcm);
        events.push({
          type: 'speechEnd',
          atMs: this.#fedMs,
          startMs: this.#startMs,
          endMs: this.#fedMs,
          audio: concatPcm(audio),
        });
      }
    }
    // keep history bounded: pre-roll plus the current utterance
    const keepFrom = (this.#speaking ? this.#startMs : this.#fedMs) - this.#o.preRollMs - this.#o.minSpeechMs;
    while (this.#history.length > 0 && this.#history[0]!.atMs < keepFrom) this.#history.shift();
    return events;
  }

  reset(): void {
    this.#speaking = false;
    this.#speechRunMs = 0;
    this.#silenceRunMs = 0;
    this.#history = [];
  }

  close(): void {
    this.closed = true;
    this.#history = [];
  }
}

export class EnergyVadFactory implements VadFactory {
  readonly created: EnergyVad[] = [];
  constructor(private readonly opts: EnergyVadOptions = {}) {}
  create(): EnergyVad {
    const vad = new EnergyVad(this.opts);
    this.created.push(vad);
    return vad;
  }
  /** VADs created and not closed (a leak check) */
  get open(): number {
    return this.created.filter((v) => !v.closed).length;
  }
}

/** A VAD the test drives: events queued with `emit` come out of the next `push`. */
export class ScriptedVad implements Vad {
  readonly #pending: VadEvent[] = [];
  speaking = false;
  closed = false;
  emit(...events: VadEvent[]): void {
    this.#pending.push(...events);
  }
  push(): VadEvent[] {
    const out = this.#pending.splice(0);
    for (const e of out) {
      if (e.type === 'speechStart') this.speaking = true;
      if (e.type === 'speechEnd') this.speaking = false;
    }
    return out;
  }
  reset(): void {
    this.#pending.length = 0;
    this.speaking = false;
  }
  close(): void {
    this.closed = true;
  }
}

export class ScriptedVadFactory implements VadFactory {
  readonly created: ScriptedVad[] = [];
  create(): ScriptedVad {
    const vad = new ScriptedVad();
    this.created.push(vad);
    return vad;
  }
}
