import { Worker } from 'node:worker_threads';
import type { SpeechConfig } from '../config.js';
import { AsyncQueue } from '../../core/async-queue.js';
import type { TtsChunk } from '../types.js';
import { TtsError, TtsSetupError, type SynthesisRequest, type TtsProvider } from './provider.js';

type EspeakConfig = SpeechConfig['tts']['espeak'];

/** npm package with espeak-ng compiled by Emscripten (GPL-3.0, like Debian's espeak-ng; see docs/speech.md). */
export const ESPEAK_WASM_PACKAGE = '@echogarden/espeak-ng-emscripten';

/**
 * The worker runs the Emscripten build. Synthesis is synchronous inside it (hundreds of ms for a long sentence on a
 * busy CPU), so it must not run on the bot's event loop, where it would stall every call's audio pacer. CommonJS run
 * with `eval`: no file to resolve, works the same under tsx and from dist/. Abort reaches a synthesis in progress
 * through shared memory: espeak-ng calls back every ~20 ms of audio, and the callback returning 1 stops it.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const abortFlag = new Int32Array(workerData.abortBuffer);
const queue = [];
const skipped = new Set();
let engine = null;
let failure = null;
const ready = import(workerData.moduleUrl)
  .then((m) => m.default())
  .then((m) => { engine = new m.eSpeakNGWorker(); parentPort.postMessage({ type: 'ready', sampleRate: engine.samplerate }); })
  .catch((e) => { failure = String(e && e.message || e); parentPort.postMessage({ type: 'ready', error: failure }); });
let busy = false;
async function drain() {
  if (busy) return;
  busy = true;
  await ready;
  while (queue.length > 0) {
    const req = queue.shift();
    if (skipped.delete(req.id)) continue;
    if (failure) { parentPort.postMessage({ id: req.id, type: 'error', message: failure }); continue; }
    try {
      if (engine.set_voice(req.voice, req.voice) !== 0) throw new Error('unknown espeak-ng voice "' + req.voice + '"');
      engine.set_rate(req.wpm);
      engine.synthesize(req.text, (samples) => {
        if (Atomics.load(abortFlag, 0) === req.id) return true;
        if (samples.length > 0) parentPort.postMessage({ id: req.id, type: 'audio', pcm: samples }, [samples.buffer]);
        return false;
      });
      parentPort.postMessage({ id: req.id, type: 'end' });
    } catch (e) {
      parentPort.postMessage({ id: req.id, type: 'error', message: String(e && e.message || e) });
    }
    // let cancel messages for queued requests arrive between sentences
    await new Promise((r) => setImmediate(r));
  }
  busy = false;
}
parentPort.on('message', (m) => {
  if (m.op === 'synth') { queue.push(m); void drain(); }
  else if (m.op === 'cancel') skipped.add(m.id);
});
`;

type WorkerMessage =
  | { type: 'ready'; sampleRate?: number; error?: string }
  | { id: number; type: 'audio'; pcm: Int16Array }
  | { id: number; type: 'end' }
  | { id: number; type: 'error'; message: string };

/** Where the package is, or undefined when it is not installed. */
export function espeakWasmModuleUrl(): string | undefined {
  try {
    return import.meta.resolve(ESPEAK_WASM_PACKAGE);
  } catch {
    return undefined;
  }
}

/**
 * espeak-ng without the system program: the same synthesizer compiled to JavaScript/WebAssembly, from npm, in one
 * worker thread shared by all calls (sentences are queued; synthesis runs ~10-25x faster than real time). 22.05 kHz
 * mono, like the binary. Used when `speech.tts.espeak.engine` is `wasm`, or `auto` and no espeak-ng binary is found.
 */
export class EspeakWasmProvider implements TtsProvider {
  readonly name = 'espeak-ng-wasm';
  readonly defaultVoice: string;
  /** resolves once the engine is loaded (rejects with TtsSetupError when it cannot load) */
  readonly ready: Promise<void>;

  readonly #worker: Worker;
  readonly #abort = new Int32Array(new SharedArrayBuffer(4));
  readonly #pending = new Map<number, AsyncQueue<TtsChunk>>();
  #sampleRate = 22_050;
  #nextId = 1;
  #closed = false;

  readonly #cfg: EspeakConfig;

  constructor(cfg: EspeakConfig) {
    this.#cfg = cfg;
    this.defaultVoice = cfg.voice;
    const moduleUrl = espeakWasmModuleUrl();
    if (!moduleUrl) {
      throw new TtsSetupError(
        `espeak-ng: neither the ${cfg.binary} program nor the npm package ${ESPEAK_WASM_PACKAGE} is installed. ` +
          `Fix: npm install (it is a dependency), or apt-get install espeak-ng`,
      );
    }
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { moduleUrl, abortBuffer: this.#abort.buffer },
    });
    this.#worker.unref();
    let settle!: (error?: string) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      settle = (error) =>
        error ? reject(new TtsSetupError(`espeak-ng (${ESPEAK_WASM_PACKAGE}) failed to load: ${error}`)) : resolve();
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it; requests report it too
    this.#worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        if (m.sampleRate) this.#sampleRate = m.sampleRate;
        settle(m.error);
        return;
      }
      const channel = this.#pending.get(m.id);
      if (!channel) return;
      if (m.type === 'audio') channel.push({ pcm: m.pcm, sampleRate: this.#sampleRate });
      else if (m.type === 'end') channel.end();
      else channel.fail(new TtsError(`espeak-ng (wasm): ${m.message}`));
    });
    this.#worker.on('error', (err) => this.#failAll(err));
    this.#worker.on('exit', () => this.#failAll(new TtsError('espeak-ng (wasm) worker exited')));
  }

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    req.signal.throwIfAborted();
    if (this.#closed) throw new TtsError('espeak-ng (wasm) is closed');
    const id = this.#nextId++;
    const channel = new AsyncQueue<TtsChunk>();
    this.#pending.set(id, channel);
    const halt = () => {
      Atomics.store(this.#abort, 0, id);
      this.#worker.postMessage({ op: 'cancel', id });
    };
    const stop = () => {
      halt();
      channel.end();
    };
    req.signal.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(() => {
      channel.fail(new TtsError(`espeak-ng (wasm) took longer than ${this.#cfg.timeoutMs} ms for one sentence`));
      halt();
    }, this.#cfg.timeoutMs);
    this.#worker.postMessage({
      op: 'synth',
      id,
      text: req.text,
      voice: req.voice ?? this.#cfg.voice,
      wpm: this.#cfg.wordsPerMinute,
    });
    try {
      // read with next(), not for-await: leaving early must not end the queue, so `ended` below still tells
      // whether the worker finished this request or has to be told to stop
      for (let next = await channel.next(); !next.done; next = await channel.next()) {
        if (req.signal.aborted) return;
        yield next.value;
      }
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener('abort', stop);
      if (!channel.ended) stop();
      this.#pending.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }

  #failAll(err: Error): void {
    for (const channel of this.#pending.values()) channel.fail(err);
    this.#pending.clear();
  }
}
