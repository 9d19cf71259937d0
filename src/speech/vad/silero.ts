import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { counter } from '../../core/metrics.js';
import { Resampler } from '../../media/resampler.js';
import type { SpeechConfig } from '../config.js';
import type { Vad, VadEvent, VadFactory } from '../types.js';
import { Endpointer, VAD_RATE, WINDOW, type WindowClassifier } from './endpointer.js';
import { VoicebotError } from '../../core/errors.js';

/** The slice of sherpa-onnx-node's Vad this adapter uses (the package ships no type declarations). */
interface SherpaVad {
  acceptWaveform(samples: Float32Array): void;
  isDetected(): boolean;
  isEmpty(): boolean;
  pop(): void;
  clear(): void;
  reset(): void;
}
interface SherpaModule {
  Vad: new (config: object, bufferSizeInSeconds: number) => SherpaVad;
}

const require = createRequire(import.meta.url);
let sherpa: SherpaModule | undefined;
const loadSherpa = (): SherpaModule => (sherpa ??= require('sherpa-onnx-node') as SherpaModule);

/** Idle sessions kept for reuse beyond this are freed (each holds an ONNX session, a few MB). */
const MAX_IDLE_SESSIONS = 64;

export class VadModelError extends VoicebotError {
  declare readonly fix: string;
  constructor(
    /** what is wrong with the file */
    readonly problem: string,
    /** what the user should do */
    fix: string,
  ) {
    super(`${problem}: ${fix}`, { kind: 'setup', fix });
  }
}

/**
 * sherpa-onnx exits the whole process on a missing model or an unexpected one, so look before loading:
 * the file must exist and start like an ONNX protobuf (field 1, ir_version, varint → byte 0x08).
 */
export function checkVadModel(path: string): string {
  const abs = resolve(path);
  const fix =
    'set speech.vad.modelPath to a Silero VAD v5 .onnx file (github.com/snakers4/silero-vad, silero_vad.onnx)';
  let size: number;
  try {
    const st = statSync(abs);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new VadModelError(`VAD model ${abs} not found`, fix);
  }
  const head = Buffer.alloc(1);
  const fd = openSync(abs, 'r');
  try {
    readSync(fd, head, 0, 1, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 100_000 || head[0] !== 0x08) {
    throw new VadModelError(`VAD model ${abs} is not an ONNX model (${size} bytes)`, fix);
  }
  return abs;
}

/**
 * Idle sherpa VAD sessions, reset and reused. Building one loads and optimises the ONNX graph synchronously on the
 * event loop (45-60 ms idle, 100-250 ms on a busy host), which stalled every other call's audio at each call start;
 * a reset (LSTM state, buffers) takes ~0.05 ms. Idle sessions are kept up to the highest concurrency seen.
 */
export class SherpaVadPool {
  readonly #idle: SherpaVad[] = [];

  readonly #make: () => SherpaVad;
  readonly #maxIdle: number;

  constructor(make: () => SherpaVad, maxIdle: number) {
    this.#make = make;
    this.#maxIdle = maxIdle;
  }

  /** Builds sessions ahead of time (at start-up, off any call's audio path). */
  prewarm(count: number): void {
    while (this.#idle.length < Math.min(count, this.#maxIdle)) this.#idle.push(this.#make());
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  acquire(): SherpaVad {
    return this.#idle.pop() ?? this.#make();
  }

  release(vad: SherpaVad): void {
    vad.reset(); // the next call starts from a fresh LSTM state and an empty buffer
    if (this.#idle.length < this.#maxIdle) this.#idle.push(vad);
    else vad.clear();
  }
}

/** One Silero model session per call (it keeps LSTM state); decisions are read per 512-sample window. */
class SileroClassifier implements WindowClassifier {
  readonly #vad: SherpaVad;
  readonly #pool: SherpaVadPool;

  constructor(vad: SherpaVad, pool: SherpaVadPool) {
    this.#vad = vad;
    this.#pool = pool;
  }

  isSpeech(window: Float32Array): boolean {
    this.#vad.acceptWaveform(window);
    // Segments are collected by sherpa for offline use; ours come from the Endpointer, so drop them at once.
    while (!this.#vad.isEmpty()) this.#vad.pop();
    return this.#vad.isDetected();
  }

  reset(): void {
    this.#vad.reset();
  }

  close(): void {
    this.#pool.release(this.#vad);
  }
}

export interface VadCreateOptions {
  /** Rate of the audio that will be pushed; anything but 16 kHz is resampled first (Silero aborts on 8 kHz). */
  sampleRate?: number;
}

export interface SileroVadFactory extends VadFactory {
  create(options?: VadCreateOptions): Vad;
}

export function createVadFactory(cfg: SpeechConfig['vad'], logger: Logger, metrics: Registry): SileroVadFactory {
  const modelPath = checkVadModel(cfg.modelPath);
  const rejected = counter(metrics, 'voicebot_vad_rejected_input_total', 'VAD input dropped as invalid', ['reason']);
  const active = counter(metrics, 'voicebot_vad_instances_total', 'VAD instances created');
  const sherpaConfig = {
    sileroVad: {
      model: modelPath,
      threshold: cfg.threshold,
      // Raw per-window decisions: the Endpointer applies minimum speech and end-of-turn silence itself.
      minSilenceDuration: 0,
      minSpeechDuration: 0,
      windowSize: WINDOW,
      maxSpeechDuration: Math.max(cfg.maxUtteranceMs / 1000 + 5, 10),
    },
    sampleRate: VAD_RATE, // never anything else: sherpa-onnx aborts the process on 8 kHz
    numThreads: 1,
    debug: 0,
  };
  const bufferSeconds = Math.ceil(cfg.maxUtteranceMs / 1000) + 10;
  const newSherpa = () => new (loadSherpa().Vad)(sherpaConfig, bufferSeconds);
  const pool = new SherpaVadPool(newSherpa, MAX_IDLE_SESSIONS);
  // at least one now so a bad model fails at start-up, not on the first call
  pool.prewarm(Math.max(1, cfg.prewarmSessions));
  logger.info({ modelPath, threshold: cfg.threshold }, 'silero VAD ready');

  return {
    create(options: VadCreateOptions = {}): Vad {
      active.inc();
      const hooks = { onReject: (reason: string) => rejected.inc({ reason }) };
      const endpointer = new Endpointer(cfg, new SileroClassifier(pool.acquire(), pool), hooks);
      const rate = options.sampleRate ?? VAD_RATE;
      return rate === VAD_RATE ? endpointer : new ResamplingVad(endpointer, new Resampler(rate, VAD_RATE), hooks);
    },
  };
}

/** Accepts another rate (e.g. 8 kHz telephone audio) and feeds the model 16 kHz. */
class ResamplingVad implements Vad {
  readonly #inner: Endpointer;
  readonly #resampler: Resampler;
  readonly #hooks: { onReject(reason: string): void };

  constructor(inner: Endpointer, resampler: Resampler, hooks: { onReject(reason: string): void }) {
    this.#inner = inner;
    this.#resampler = resampler;
    this.#hooks = hooks;
  }

  get speaking(): boolean {
    return this.#inner.speaking;
  }

  push(pcm: Int16Array): VadEvent[] {
    if (!(pcm instanceof Int16Array)) {
      this.#hooks.onReject('not-int16');
      return [];
    }
    return this.#inner.push(this.#resampler.process(pcm));
  }

  reset(): void {
    this.#resampler.reset();
    this.#inner.reset();
  }

  close(): void {
    this.#inner.close();
  }
}
