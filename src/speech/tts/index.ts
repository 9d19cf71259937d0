import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { counter, histogram } from '../../core/metrics.js';
import { concatPcm } from '../../media/pcm.js';
import { AsyncQueue } from '../../core/async-queue.js';
import type { SpeechConfig } from '../config.js';
import type { Tts, TtsChunk, TtsOptions } from '../types.js';
import { AudioCache } from './cache.js';
import { CoquiProvider } from './coqui.js';
import { EspeakProvider } from './espeak.js';
import { EspeakWasmProvider } from './espeak-wasm.js';
import { findProgram } from '../../core/programs.js';
import { OpenAiTtsProvider } from './openai.js';
import type { TtsProvider } from './provider.js';
import { splitSentences } from './sentences.js';
import { SherpaOnnxProvider, validateSherpaVoice as validateSherpa } from './sherpa-onnx.js';

export { TtsError, TtsSetupError } from './provider.js';
export { ttsToFrames, ttsToMulawFrames } from './frames.js';

/** Chunks handed out are at most this long, so a barge-in stops output within one of them. */
const MAX_CHUNK_MS = 100;

interface Prepared {
  audio: AsyncQueue<TtsChunk>;
  done: Promise<void>;
}

/**
 * The Tts port over one provider: splits the reply into sentences and synthesizes the next sentence while the
 * current one plays; serves repeated sentences from the LRU cache. When the signal aborts, output stops at the
 * next chunk (≤ 100 ms) and the iteration ends quietly; provider work in flight is cancelled.
 */
export class SentenceTts implements Tts {
  readonly #cache: AudioCache;
  readonly #requests;
  readonly #cacheLookups;
  readonly #firstAudio;
  readonly #provider: TtsProvider;
  readonly #cfg: Pick<SpeechConfig['tts'], 'cacheEntries' | 'splitSentences'>;
  readonly #logger: Logger;

  constructor(
    provider: TtsProvider,
    cfg: Pick<SpeechConfig['tts'], 'cacheEntries' | 'splitSentences'>,
    logger: Logger,
    metrics: Registry,
  ) {
    this.#provider = provider;
    this.#cfg = cfg;
    this.#logger = logger;
    this.#cache = new AudioCache(cfg.cacheEntries);
    this.#requests = counter(metrics, 'voicebot_tts_requests_total', 'TTS requests', ['provider', 'outcome']);
    this.#cacheLookups = counter(metrics, 'voicebot_tts_cache_total', 'TTS sentence cache lookups', ['result']);
    this.#firstAudio = histogram(
      metrics,
      'voicebot_tts_first_audio_seconds',
      'time from a TTS request to its first audio',
      [0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      ['provider'],
    );
  }

  synthesize(text: string, options: TtsOptions = {}): AsyncIterable<TtsChunk> {
    return this.#run(text, options);
  }

  async close(): Promise<void> {
    await this.#provider.close();
  }

  async *#run(text: string, options: TtsOptions): AsyncGenerator<TtsChunk> {
    const outer = options.signal;
    if (outer?.aborted) return;
    const sentences = this.#cfg.splitSentences ? splitSentences(text) : [text.trim()].filter(Boolean);
    const stop = new AbortController();
    const signal = outer ? AbortSignal.any([outer, stop.signal]) : stop.signal;
    const voice = options.voice ?? this.#provider.defaultVoice;
    const prepared: Prepared[] = [];
    const started = performance.now();
    let first = true;
    let outcome = 'ok';
    try {
      for (let i = 0; i < sentences.length; i++) {
        prepared[i] ??= this.#prepare(sentences[i] as string, voice, signal);
        // the next sentence is synthesized while this one is being played
        if (i + 1 < sentences.length) prepared[i + 1] ??= this.#prepare(sentences[i + 1] as string, voice, signal);
        for await (const chunk of (prepared[i] as Prepared).audio) {
          for (const piece of pieces(chunk)) {
            if (signal.aborted) {
              outcome = 'cancelled';
              return;
            }
            if (first) {
              first = false;
              this.#firstAudio.observe({ provider: this.#provider.name }, (performance.now() - started) / 1000);
            }
            yield piece;
          }
        }
      }
      if (signal.aborted) outcome = 'cancelled';
    } catch (err) {
      outcome = signal.aborted ? 'cancelled' : 'error';
      if (!signal.aborted) throw err;
    } finally {
      stop.abort(new Error('speech no longer needed'));
      await Promise.allSettled(prepared.map((p) => p.done));
      this.#requests.inc({ provider: this.#provider.name, outcome });
    }
  }

  /** Start producing one sentence into a buffer now (from the cache when possible). */
  #prepare(sentence: string, voice: string, signal: AbortSignal): Prepared {
    const audio = new AsyncQueue<TtsChunk>();
    const key = AudioCache.key(this.#provider.name, voice, sentence);
    const cached = this.#cache.get(key);
    this.#cacheLookups.inc({ result: cached ? 'hit' : 'miss' });
    if (cached) {
      audio.push({ pcm: cached.pcm, sampleRate: cached.sampleRate });
      audio.end();
      return { audio, done: Promise.resolve() };
    }
    const fill = async () => {
      const parts: Int16Array[] = [];
      let rate = 0;
      for await (const chunk of this.#provider.synthesize({ text: sentence, voice, signal })) {
        if (rate && chunk.sampleRate !== rate) throw new Error('provider changed sample rate within a sentence');
        rate = chunk.sampleRate;
        parts.push(chunk.pcm);
        audio.push(chunk);
      }
      if (!signal.aborted && rate) this.#cache.set(key, { pcm: concatPcm(parts), sampleRate: rate });
      audio.end();
    };
    const done = fill().catch((err: unknown) => {
      if (!signal.aborted) this.#logger.warn({ err, provider: this.#provider.name }, 'speech synthesis failed');
      audio.fail(err);
    });
    return { audio, done };
  }
}

function* pieces(chunk: TtsChunk): Generator<TtsChunk> {
  const step = Math.max(1, Math.round((chunk.sampleRate * MAX_CHUNK_MS) / 1000));
  if (chunk.pcm.length <= step) {
    yield chunk;
    return;
  }
  for (let i = 0; i < chunk.pcm.length; i += step) {
    yield { pcm: chunk.pcm.subarray(i, i + step), sampleRate: chunk.sampleRate };
  }
}

/** The configured TTS provider behind the Tts port (sherpa-onnx checks its voice files first). */
export async function createTtsAsync(cfg: SpeechConfig['tts'], logger: Logger, metrics: Registry): Promise<Tts> {
  const provider = cfg.provider === 'sherpa-onnx' ? await SherpaOnnxProvider.create(cfg.sherpaOnnx) : providerFor(cfg);
  return new SentenceTts(provider, cfg, logger.child({ component: 'tts', provider: provider.name }), metrics);
}

/**
 * Synchronous form for the CLI-free providers (espeak-ng, coqui, openai). sherpa-onnx loads a model, so it
 * needs createTtsAsync; asking for it here throws TtsSetupError after validating its files.
 */
export function createTts(cfg: SpeechConfig['tts'], logger: Logger, metrics: Registry): Tts {
  return new SentenceTts(providerFor(cfg), cfg, logger.child({ component: 'tts', provider: cfg.provider }), metrics);
}

function providerFor(cfg: SpeechConfig['tts']): TtsProvider {
  switch (cfg.provider) {
    case 'coqui':
      return new CoquiProvider(cfg.coqui);
    case 'openai':
      return new OpenAiTtsProvider(cfg.openai);
    case 'espeak-ng':
      return espeakProvider(cfg.espeak);
    case 'sherpa-onnx':
      return new LazySherpaProvider(cfg.sherpaOnnx);
  }
}

/**
 * espeak-ng as configured: `binary` runs the program (a clear error per request if it is missing), `wasm` the npm
 * build, `auto` the program when it is on PATH, else the npm build.
 */
export function espeakEngine(
  cfg: SpeechConfig['tts']['espeak'],
  env: NodeJS.ProcessEnv = process.env,
): 'binary' | 'wasm' {
  if (cfg.engine !== 'auto') return cfg.engine;
  return findProgram(cfg.binary, env) ? 'binary' : 'wasm';
}

function espeakProvider(cfg: SpeechConfig['tts']['espeak']): TtsProvider {
  return espeakEngine(cfg) === 'binary' ? new EspeakProvider(cfg) : new EspeakWasmProvider(cfg);
}

/** sherpa-onnx behind the synchronous factory: validates files now, loads the voice on first use. */
class LazySherpaProvider implements TtsProvider {
  readonly name = 'sherpa-onnx';
  readonly defaultVoice: string;
  #loading: Promise<SherpaOnnxProvider> | null = null;
  readonly #cfg: SpeechConfig['tts']['sherpaOnnx'];

  constructor(cfg: SpeechConfig['tts']['sherpaOnnx']) {
    this.#cfg = cfg;
    this.defaultVoice = String(cfg.speakerId);
    validateSherpa(cfg);
  }

  async *synthesize(req: Parameters<TtsProvider['synthesize']>[0]): AsyncGenerator<TtsChunk> {
    this.#loading ??= SherpaOnnxProvider.create(this.#cfg);
    yield* (await this.#loading).synthesize(req);
  }

  async close(): Promise<void> {}
}
