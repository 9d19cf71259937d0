/**
 * Test doubles for the speech ports and `createTestDeps`, usable by every concern's tests.
 * Nothing here touches a model, a process or the network.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ConfigInput } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { CallEventBus, type CallEvent } from '../core/call-events.js';
import type { CallRecord, CallRecordEvent, CallRecordSink } from '../core/call-record.js';
import { createMetrics } from '../core/metrics.js';
import { createLogger, type Logger } from '../log/logger.js';
import { MemorySessionStore } from '../session/memory-store.js';
import type {
  Asr,
  AsrOptions,
  AsrResult,
  Tts,
  TtsChunk,
  TtsOptions,
  Vad,
  VadEvent,
  VadFactory,
} from '../speech/types.js';
import type { CallCoreDeps } from './call-core.js';

// ---- ASR -------------------------------------------------------------------------------------

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

  constructor(
    script: ScriptedUtterance[],
    private readonly opts: { confidence?: number; partials?: boolean; sampleRate?: number } = {},
  ) {
    this.#script = [...script];
  }

  get remaining(): number {
    return this.#script.length;
  }

  async *transcribe(audio: AsyncIterable<Int16Array>, options: AsrOptions = {}): AsyncIterable<AsrResult> {
    this.calls++;
    this.active++;
    const t0 = performance.now();
    const rate = this.opts.sampleRate ?? 16000;
    try {
      let samples = 0;
      let partialSent = false;
      for await (const chunk of audio) {
        options.signal?.throwIfAborted();
        samples += chunk.length;
        if (this.opts.partials && !partialSent && this.#script.length > 0) {
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
      yield this.#result(e.text, e.confidence ?? this.opts.confidence ?? 0.9, true, samples, rate, t0);
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

// ---- VAD -------------------------------------------------------------------------------------

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
        const total = audio.reduce((n, a) => n + a.length, 0);
        const joined = new Int16Array(total);
        let at = 0;
        for (const a of audio) {
          joined.set(a, at);
          at += a.length;
        }
        events.push({
          type: 'speechEnd',
          atMs: this.#fedMs,
          startMs: this.#startMs,
          endMs: this.#fedMs,
          audio: joined,
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

// ---- TTS -------------------------------------------------------------------------------------

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

// ---- records and deps ------------------------------------------------------------------------

export class MemoryRecordSink implements CallRecordSink {
  readonly submitted: Array<{ event: CallRecordEvent; record: CallRecord }> = [];
  failWith: Error | undefined;
  submit(event: CallRecordEvent, record: CallRecord): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.submitted.push({ event, record });
    return Promise.resolve();
  }
  of(event: CallRecordEvent): CallRecord[] {
    return this.submitted.filter((s) => s.event === event).map((s) => s.record);
  }
}

export interface TestDepsOverrides {
  /** config layered over the defaults (same shape as the YAML) */
  config?: ConfigInput | Record<string, unknown>;
  /** YAML file loaded first */
  configFile?: string;
  asrScript?: ScriptedUtterance[];
  asr?: Asr;
  tts?: Tts;
  vad?: VadFactory;
  records?: CallRecordSink;
  sessions?: CallCoreDeps['sessions'];
  nlu?: CallCoreDeps['nlu'];
  logger?: Logger;
}

export interface TestDeps extends CallCoreDeps {
  /** every CallEvent published, in order */
  published: CallEvent[];
}

/** A CallCoreDeps with in-memory everything: scripted ASR, tone TTS, energy VAD, memory sinks. */
export function createTestDeps(overrides: TestDepsOverrides = {}): TestDeps {
  const config = loadConfig({
    file: overrides.configFile,
    env: {},
    overrides: (overrides.config ?? {}) as Record<string, unknown>,
  });
  const events = new CallEventBus();
  const published: CallEvent[] = [];
  events.subscribe((e) => published.push(e));
  const v = config.speech.vad;
  const deps: TestDeps = {
    config,
    logger: overrides.logger ?? createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false }),
    vad:
      overrides.vad ??
      new EnergyVadFactory({
        minSpeechMs: Math.min(v.minSpeechMs, 60),
        endOfTurnSilenceMs: Math.min(v.endOfTurnSilenceMs, 300),
        interruptionMs: v.interruptionMs,
        preRollMs: Math.min(v.preRollMs, 100),
      }),
    asr: overrides.asr ?? new ScriptedAsr(overrides.asrScript ?? []),
    tts: overrides.tts ?? new ToneTts(),
    records: overrides.records ?? new MemoryRecordSink(),
    sessions: overrides.sessions ?? new MemorySessionStore(config.session.ttlSeconds),
    events,
    metrics: createMetrics(false),
    published,
  };
  if (overrides.nlu) deps.nlu = overrides.nlu;
  return deps;
}
