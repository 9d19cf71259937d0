import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { counter, gauge } from '../../core/metrics.js';
import { Resampler } from '../../media/resampler.js';
import type { SpeechConfig } from '../config.js';
import type { Vad, VadEvent, VadFactory } from '../types.js';
import { Endpointer, VAD_RATE, WINDOW, type WindowClassifier } from './endpointer.js';
import { VoicebotError } from '../../core/errors.js';
import { VadCapacityError } from './errors.js';
import { SileroThreadPool, ThreadedVad } from './silero-threads.js';

export { VadCapacityError } from './errors.js';

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

const probed = new Set<string>();

/**
 * Load the model once in a throw-away process: sherpa-onnx aborts the whole process (exit 134) on a file that
 * starts like ONNX but is truncated or corrupt, which the header check cannot see. Resolves when it loaded; a file
 * already probed unchanged in this process is not probed again.
 */
export async function probeVadModel(path: string, timeoutMs = 30_000): Promise<void> {
  const abs = checkVadModel(path);
  const st = statSync(abs);
  const key = `${abs}:${st.size}:${st.mtimeMs}`;
  if (probed.has(key)) return;
  const config = { sileroVad: { model: abs, threshold: 0.5, windowSize: WINDOW }, sampleRate: VAD_RATE, debug: 0 };
  const script = `const s = require(${JSON.stringify(require.resolve('sherpa-onnx-node'))}); new s.Vad(${JSON.stringify(config)}, 5);`;
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: timeoutMs }, (err) => {
      if (!err) return resolve();
      const how = err.signal ?? `exit ${String(err.code)}`;
      reject(
        new VadModelError(
          `VAD model ${abs} could not be loaded (${how}): it is truncated, corrupt or not a Silero VAD model`,
          'set speech.vad.modelPath to a Silero VAD v5 .onnx file (the repository ships models/silero_vad_v5.onnx)',
        ),
      );
    });
  });
  probed.add(key);
}

/**
 * sherpa VAD sessions, built at most `maxTotal` times and reused for ever after.
 *
 * Building one loads and optimises the ONNX graph synchronously on the event loop (45-60 ms idle, 100-250 ms on a
 * busy host), which stalled every other call's audio at each call start; a reset (LSTM state, buffers) takes
 * ~0.05 ms. And a session can never be freed on demand: sherpa-onnx-node exposes no destroy, the native memory
 * (several MB, the ONNX runtime's) goes only when V8 collects the JS handle, and V8 does not know that memory
 * exists, so with a small JS heap that collection may not come for hours. Dropping sessions beyond a pool therefore
 * leaked: two floods of 1,000 calls reached 12 GB. So nothing is dropped: the number of sessions is bounded by
 * the concurrent-call cap, and they all stay for reuse.
 */
/** What tests, benches and metrics read of a pool of native sessions (in-thread or in worker threads). */
export interface VadSessions {
  /** native sessions in existence (idle + in use); never above maxTotal */
  readonly size: number;
  readonly inUse: number;
  readonly idleCount: number;
  readonly maxTotal: number;
}

export class SherpaVadPool implements VadSessions {
  readonly #idle: SherpaVad[] = [];
  #built = 0;
  readonly #make: () => SherpaVad;
  readonly #onBuilt: () => void;
  readonly maxTotal: number;

  constructor(make: () => SherpaVad, maxTotal: number, onBuilt: () => void = () => undefined) {
    this.#make = make;
    this.maxTotal = maxTotal;
    this.#onBuilt = onBuilt;
  }

  /** Builds sessions ahead of time (at start-up, off any call's audio path). */
  prewarm(count: number): void {
    while (this.#built < Math.min(count, this.maxTotal)) this.#idle.push(this.#build());
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  /** Native sessions in existence (idle + in use); never above maxTotal. */
  get size(): number {
    return this.#built;
  }

  get inUse(): number {
    return this.#built - this.#idle.length;
  }

  acquire(): SherpaVad {
    const vad = this.#idle.pop();
    if (vad) return vad;
    if (this.#built >= this.maxTotal) throw new VadCapacityError(this.maxTotal);
    return this.#build();
  }

  release(vad: SherpaVad): void {
    vad.reset(); // the next call starts from a fresh LSTM state and an empty buffer
    this.#idle.push(vad);
  }

  #build(): SherpaVad {
    const vad = this.#make();
    this.#built++;
    this.#onBuilt();
    return vad;
  }
}

/** One Silero model session per call (it keeps LSTM state); decisions are read per 512-sample window. */
class SileroClassifier implements WindowClassifier {
  readonly #vad: SherpaVad;
  readonly #pool: SherpaVadPool;
  readonly #onReleased: () => void;
  #released = false;

  constructor(vad: SherpaVad, pool: SherpaVadPool, onReleased: () => void) {
    this.#vad = vad;
    this.#pool = pool;
    this.#onReleased = onReleased;
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
    // twice would put one session in the pool twice and hand it to two calls
    if (this.#released) return;
    this.#released = true;
    this.#pool.release(this.#vad);
    this.#onReleased();
  }
}

export interface VadCreateOptions {
  /** Rate of the audio that will be pushed; anything but 16 kHz is resampled first (Silero aborts on 8 kHz). */
  sampleRate?: number;
}

export interface SileroVadFactory extends VadFactory {
  create(options?: VadCreateOptions): Vad;
  /** the native sessions (tests and benches read their counts) */
  readonly pool: VadSessions;
  /** worker threads running inference (0: on the event loop) */
  readonly inferenceThreads: number;
  /** stops the worker threads (calls still open get no more events) */
  close(): Promise<void>;
}

/** Sessions the pool may build when the caller does not say (the default concurrent-call cap). */
export const DEFAULT_MAX_VAD_SESSIONS = 50;

export interface VadFactoryOptions {
  /**
   * Worker threads for Silero inference (speech.vad.inferenceThreads). Default 0, on the event loop: events come
   * back from the push that caused them, which offline users (benches over whole clips, boundary tests) need.
   */
  inferenceThreads?: number;
}

export function createVadFactory(
  cfg: SpeechConfig['vad'],
  logger: Logger,
  metrics: Registry,
  /** the concurrent-call cap: one native session per call, never more */
  maxSessions = DEFAULT_MAX_VAD_SESSIONS,
  options: VadFactoryOptions = {},
): SileroVadFactory {
  const modelPath = checkVadModel(cfg.modelPath);
  const rejected = counter(metrics, 'voicebot_vad_rejected_input_total', 'VAD input dropped as invalid', ['reason']);
  const built = counter(
    metrics,
    'voicebot_vad_instances_total',
    'Native Silero VAD sessions built (never above the cap)',
  );
  const inUse = gauge(metrics, 'voicebot_vad_sessions_in_use', 'Native Silero VAD sessions held by calls');
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
  const maxTotal = Math.max(1, maxSessions);
  const threads = options.inferenceThreads ?? 0;
  gauge(metrics, 'voicebot_vad_sessions_max', 'Native Silero VAD sessions the pool may build').set(maxTotal);
  const hooks = { onReject: (reason: string) => rejected.inc({ reason }) };
  const withRate = (vad: Vad, options: VadCreateOptions): Vad => {
    const rate = options.sampleRate ?? VAD_RATE;
    return rate === VAD_RATE ? vad : new ResamplingVad(vad, new Resampler(rate, VAD_RATE), hooks);
  };

  if (threads > 0) {
    const pool = new SileroThreadPool(
      { threads, maxTotal, config: sherpaConfig, bufferSeconds },
      () => built.inc(),
      (err) => logger.error({ err }, 'VAD inference thread failed; its calls hear no more speech'),
    );
    pool.prewarm(Math.max(1, cfg.prewarmSessions));
    logger.info({ modelPath, threshold: cfg.threshold, threads }, 'silero VAD ready (inference in worker threads)');
    return {
      pool,
      inferenceThreads: threads,
      create(options: VadCreateOptions = {}): Vad {
        const vad = new ThreadedVad(cfg, pool, hooks, () => inUse.set(pool.inUse));
        inUse.set(pool.inUse);
        return withRate(vad, options);
      },
      close: () => pool.close(),
    };
  }

  const newSherpa = () => new (loadSherpa().Vad)(sherpaConfig, bufferSeconds);
  const pool = new SherpaVadPool(newSherpa, maxTotal, () => built.inc());
  // at least one now so a bad model fails at start-up, not on the first call
  pool.prewarm(Math.max(1, cfg.prewarmSessions));
  logger.info({ modelPath, threshold: cfg.threshold }, 'silero VAD ready');

  return {
    pool,
    inferenceThreads: 0,
    create(options: VadCreateOptions = {}): Vad {
      const session = pool.acquire();
      inUse.set(pool.inUse);
      const endpointer = new Endpointer(cfg, new SileroClassifier(session, pool, () => inUse.set(pool.inUse)), hooks);
      return withRate(endpointer, options);
    },
    close: () => Promise.resolve(),
  };
}

/** Accepts another rate (e.g. 8 kHz telephone audio) and feeds the model 16 kHz. */
class ResamplingVad implements Vad {
  readonly #inner: Vad;
  readonly #resampler: Resampler;
  readonly #hooks: { onReject(reason: string): void };

  constructor(inner: Vad, resampler: Resampler, hooks: { onReject(reason: string): void }) {
    this.#inner = inner;
    this.#resampler = resampler;
    this.#hooks = hooks;
  }

  get speaking(): boolean {
    return this.#inner.speaking;
  }

  /** Threaded inner VAD: resolves once every window sent has its decision (tests). */
  settled(): Promise<void> {
    return this.#inner instanceof ThreadedVad ? this.#inner.settled() : Promise.resolve();
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
