import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Gauge, Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { gauge } from '../../core/metrics.js';
import { int16ToFloat32 } from '../audio.js';
import type { SpeechConfig } from '../config.js';
import { checkWhisperModel } from '../models/catalog.js';
import type { AsrEngine, Recognition, RecognizeOptions } from './engine.js';
import { WorkQueue } from './queue.js';
import { VoicebotError } from '../../core/errors.js';

type WhisperCppConfig = SpeechConfig['asr']['whisperCpp'];

/** The model or the native addon cannot be used; the message says which file and what to run. */
/** The whisper.cpp addon or model is not usable: the user rebuilds or re-downloads (start-up stops). */
export class WhisperSetupError extends VoicebotError {
  constructor(message: string) {
    super(message, { kind: 'setup' });
  }
}

// smart-whisper's surface used here (its low-level binding: one shared model, one whisper_state per request).
interface NativeModel {
  readonly handle: unknown;
  readonly freed: boolean;
  free(): Promise<void>;
}
interface Segment {
  text: string;
  lang?: string;
  tokens?: Array<{ text: string; p: number }>;
}
interface SmartWhisper {
  WhisperModel: { load(file: string, gpu?: boolean): Promise<NativeModel> };
  binding: {
    transcribe(
      handle: unknown,
      pcm: Float32Array,
      params: Record<string, unknown>,
      finish: (results: unknown) => void,
      progress: (segment: unknown) => void,
    ): void;
  };
}

const require = createRequire(import.meta.url);
const RATE = 16_000;
/** whisper.cpp ignores input under 1 s: pad short turns ("yes", "no") with silence. */
const MIN_SAMPLES = Math.round(RATE * 1.1);
/** The encoder window: 1500 frames of 20 ms = 30 s. */
const FULL_AUDIO_CTX = 1500;
const BUILD_CMD = 'node scripts/build-whisper.mjs';

/** Encoder frames for an utterance: enough for its length plus a margin, never below `floor`, at most 30 s. */
export function audioCtxFor(audioMs: number, floor: number): number {
  return Math.min(FULL_AUDIO_CTX, Math.max(floor, Math.ceil(audioMs / 20) + 32));
}

/**
 * whisper.cpp's `max_tokens` for an utterance: `perSecond` tokens per second of audio, at least 1; 0 = no cap.
 * whisper.cpp stops once the step index reaches max_tokens, so it samples max_tokens + 1 tokens: the text tokens
 * plus the end-of-text step a trained model takes.
 */
export function maxTokensFor(audioMs: number, perSecond: number): number {
  return perSecond > 0 ? Math.max(1, Math.round((perSecond * audioMs) / 1000)) : 0;
}

/**
 * whisper_full parameters (smart-whisper's names) for one utterance of `audioMs`: what every request runs with.
 * Exported for the binding side-by-side bench, which must run the product's exact settings.
 */
export function whisperParams(
  cfg: Pick<WhisperCppConfig, 'threads' | 'language' | 'audioCtxMin' | 'maxTokensPerSecond'>,
  audioMs: number,
  prompt?: string,
): Record<string, unknown> {
  const params: Record<string, unknown> = {
    strategy: 0, // greedy: a phone turn needs speed more than beam search
    n_threads: cfg.threads,
    language: cfg.language,
    audio_ctx: audioCtxFor(Math.max(audioMs, 1100), cfg.audioCtxMin),
    no_context: true,
    single_segment: true,
    no_timestamps: true,
    print_progress: false,
    print_realtime: false,
    print_timestamps: false,
    suppress_non_speech_tokens: true,
    temperature_inc: 0, // no fallback re-decoding: it multiplies latency on noisy turns
    format: 'detail',
  };
  if (prompt) params.initial_prompt = prompt;
  const maxTokens = maxTokensFor(audioMs, cfg.maxTokensPerSecond);
  if (maxTokens > 0) params.max_tokens = maxTokens;
  return params;
}

function loadAddon(): SmartWhisper {
  try {
    return require('smart-whisper') as SmartWhisper;
  } catch (err) {
    throw new WhisperSetupError(
      `whisper.cpp addon (smart-whisper) could not be loaded: ${(err as Error).message.split('\n')[0]}. Build it: ${BUILD_CMD}`,
    );
  }
}

/** How scripts/build-whisper.mjs built the addon (absent when built some other way). */
export function addonBuild(): { mode?: string; cflags?: string } {
  try {
    const dir = dirname(require.resolve('smart-whisper/package.json'));
    const marker = join(dir, 'build', 'voicebot-build.json');
    return existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as { mode?: string }) : {};
  } catch {
    return {};
  }
}

/** Load an unverified model in a throw-away process first: whisper.cpp may crash on a bad file. */
async function probeInChild(path: string, gpu: boolean, timeoutMs = 120_000): Promise<void> {
  const script = `require('smart-whisper').WhisperModel.load(${JSON.stringify(path)}, ${gpu}).then((m) => m.free())`;
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: timeoutMs }, (err) => {
      if (!err) resolve();
      else
        reject(
          new WhisperSetupError(
            `whisper.cpp could not load model file ${path} (${err.signal ?? `exit ${String(err.code)}`}): it is corrupt or not a whisper model`,
          ),
        );
    });
  });
}

/** Text tokens only: whisper's special tokens ([_BEG_], [_TT_42], <|endoftext|>) carry no confidence. */
const isSpecial = (t: string) => /^\[_.*\]$/.test(t) || /^<\|.*\|>$/.test(t);

export function recognitionFrom(
  segments: Segment[],
  fallbackLanguage: string,
): Omit<Recognition, 'processingMs' | 'queueMs'> {
  const text = segments
    .map((s) => s.text)
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
  const probs = segments.flatMap((s) => (s.tokens ?? []).filter((t) => !isSpecial(t.text)).map((t) => t.p));
  const confidence = probs.length ? probs.reduce((a, b) => a + b, 0) / probs.length : 0;
  const language = segments.find((s) => s.lang)?.lang ?? fallbackLanguage;
  return { text, confidence: Number.isFinite(confidence) ? Math.min(1, Math.max(0, confidence)) : 0, language };
}

/**
 * whisper.cpp through smart-whisper: ONE model per process, shared by every call through a bounded queue.
 * Each request gets its own whisper_state (smart-whisper creates it), so `parallelism` requests can run at once
 * (libuv runs them on its thread pool: UV_THREADPOOL_SIZE, default 4, caps real parallelism).
 */
export class WhisperCppEngine implements AsrEngine {
  readonly provider = 'whisper-cpp';
  readonly partials = true;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  readonly #addon: SmartWhisper;
  readonly #model: NativeModel;
  readonly #cfg: WhisperCppConfig;
  readonly #queue: WorkQueue;
  readonly #depth: Gauge<string>;

  private constructor(
    addon: SmartWhisper,
    model: NativeModel,
    cfg: WhisperCppConfig,
    queue: WorkQueue,
    depth: Gauge<string>,
  ) {
    this.#addon = addon;
    this.#model = model;
    this.#cfg = cfg;
    this.#queue = queue;
    this.#depth = depth;
  }

  static async create(cfg: WhisperCppConfig, logger: Logger, metrics: Registry): Promise<WhisperCppEngine> {
    const check = await checkWhisperModel(cfg);
    if (!check.ok) throw new WhisperSetupError(`${check.problem}. Fix: ${check.fix}`);
    const gpu = cfg.device === 'cuda';
    if (gpu && addonBuild().mode !== 'cuda') {
      throw new WhisperSetupError(
        `speech.asr.whisperCpp.device is "cuda" but the whisper.cpp addon was built for the CPU. Build it with CUDA: ${BUILD_CMD} --cuda`,
      );
    }
    const addon = loadAddon();
    if (check.verified === 'unknown') await probeInChild(check.path, gpu);
    const started = performance.now();
    const model = await addon.WhisperModel.load(check.path, gpu);
    const queue = new WorkQueue(cfg.parallelism, cfg.queueLimit, 'whisper.cpp');
    const depth = gauge(metrics, 'voicebot_asr_queue_depth', 'ASR requests waiting for the shared model', ['provider']);
    const engine = new WhisperCppEngine(addon, model, cfg, queue, depth);
    logger.info(
      {
        model: check.path,
        checksum: check.verified,
        device: cfg.device,
        build: addonBuild(),
        loadMs: Math.round(performance.now() - started),
      },
      'whisper.cpp model loaded',
    );
    return engine;
  }

  /**
   * A partial would wait, or would take the last free slot: with parallelism > 1 one slot is kept for final
   * results, so a preview never makes a caller's final (theirs or another call's) wait behind it.
   */
  get busy(): boolean {
    return this.#queue.wouldCrowd(1);
  }

  async recognize(pcm16k: Int16Array, options: RecognizeOptions): Promise<Recognition> {
    if (this.#closed) throw new Error('whisper.cpp engine is closed');
    const audioMs = (pcm16k.length * 1000) / RATE;
    const samples = new Float32Array(Math.max(pcm16k.length, MIN_SAMPLES));
    int16ToFloat32(pcm16k, samples);
    const params = whisperParams(this.#cfg, audioMs, options.prompt ?? this.#cfg.initialPrompt);
    const job = this.#queue.run(
      async () => {
        const started = performance.now();
        const segments = await this.#transcribeNative(samples, params);
        return { segments, processingMs: performance.now() - started };
      },
      options.signal,
      options.urgent ?? options.final,
    );
    this.#inFlight.add(job);
    this.#depth.set({ provider: this.provider }, this.#queue.depth);
    try {
      const { result, queueMs } = await job;
      return {
        ...recognitionFrom(result.segments, this.#cfg.language),
        processingMs: Math.round(result.processingMs),
        queueMs: Math.round(queueMs),
        decodedTokens: result.segments.reduce((n, s) => n + (s.tokens?.length ?? 0), 0),
      };
    } finally {
      this.#inFlight.delete(job);
      this.#depth.set({ provider: this.provider }, this.#queue.depth);
    }
  }

  #transcribeNative(samples: Float32Array, params: Record<string, unknown>): Promise<Segment[]> {
    return new Promise((resolve, reject) => {
      if (this.#model.freed) return reject(new Error('whisper.cpp model was freed'));
      this.#addon.binding.transcribe(
        this.#model.handle,
        samples,
        params,
        (results) => {
          if (results instanceof Error) reject(results);
          else if (!Array.isArray(results)) reject(new Error('whisper.cpp returned no result list'));
          else resolve(results as Segment[]);
        },
        () => undefined,
      );
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.drain(new Error('whisper.cpp engine is closing'));
    await Promise.allSettled([...this.#inFlight]);
    await this.#model.free();
  }
}
