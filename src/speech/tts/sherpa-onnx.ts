import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SpeechConfig } from '../config.js';
import type { TtsChunk } from '../types.js';
import { TtsSetupError, type SynthesisRequest, type TtsProvider } from './provider.js';

type SherpaTtsConfig = SpeechConfig['tts']['sherpaOnnx'];

interface OfflineTts {
  sampleRate: number;
  numSpeakers: number;
  generateAsync(req: {
    text: string;
    sid: number;
    speed: number;
  }): Promise<{ samples: Float32Array; sampleRate: number }>;
}
interface SherpaTtsModule {
  OfflineTts: { createAsync(config: object): Promise<OfflineTts> };
}

const require = createRequire(import.meta.url);
const KEY = 'speech.tts.sherpaOnnx';

/** Which files each voice kind needs; all must exist before sherpa-onnx sees them (it exits on a bad path). */
export function requiredVoiceFiles(cfg: SherpaTtsConfig): Array<[key: string, path: string | undefined]> {
  const files: Array<[string, string | undefined]> = [
    ['modelPath', cfg.modelPath],
    ['tokensPath', cfg.tokensPath],
  ];
  if (cfg.kind === 'kokoro') files.push(['voicesPath', cfg.voicesPath]);
  if (cfg.kind === 'matcha') files.push(['vocoderPath', cfg.vocoderPath]);
  return files;
}

/** Throws TtsSetupError naming every missing setting or file. */
export function validateSherpaVoice(cfg: SherpaTtsConfig): void {
  const problems: string[] = [];
  for (const [key, path] of requiredVoiceFiles(cfg)) {
    if (!path) problems.push(`${KEY}.${key} is not set`);
    else if (!existsSync(path) || !statSync(path).isFile()) problems.push(`${KEY}.${key}: ${path} not found`);
  }
  for (const [key, path] of [
    ['dataDir', cfg.dataDir],
    ['lexiconPath', cfg.lexiconPath],
  ] as const) {
    if (path && !existsSync(path)) problems.push(`${KEY}.${key}: ${path} not found`);
  }
  if (problems.length) {
    throw new TtsSetupError(
      `sherpa-onnx ${cfg.kind} voice is not usable: ${problems.join('; ')}. Download a voice (e.g. a Piper VITS model with its tokens.txt and espeak-ng-data) and point ${KEY} at its files`,
    );
  }
}

function modelConfig(cfg: SherpaTtsConfig): object {
  const common = { tokens: cfg.tokensPath, dataDir: cfg.dataDir ?? '', lexicon: cfg.lexiconPath ?? '' };
  if (cfg.kind === 'kokoro') return { kokoro: { model: cfg.modelPath, voices: cfg.voicesPath, ...common } };
  if (cfg.kind === 'matcha') return { matcha: { acousticModel: cfg.modelPath, vocoder: cfg.vocoderPath, ...common } };
  return { vits: { model: cfg.modelPath, ...common } };
}

/** Offline neural voices (Piper/VITS, Kokoro, Matcha) run in-process by sherpa-onnx; one sentence per request. */
export class SherpaOnnxProvider implements TtsProvider {
  readonly name = 'sherpa-onnx';
  readonly defaultVoice: string;

  readonly #tts: OfflineTts;
  readonly #cfg: SherpaTtsConfig;

  private constructor(tts: OfflineTts, cfg: SherpaTtsConfig) {
    this.#tts = tts;
    this.#cfg = cfg;
    this.defaultVoice = String(cfg.speakerId);
  }

  static async create(cfg: SherpaTtsConfig): Promise<SherpaOnnxProvider> {
    validateSherpaVoice(cfg);
    const sherpa = require('sherpa-onnx-node') as SherpaTtsModule;
    const tts = await sherpa.OfflineTts.createAsync({
      model: { ...modelConfig(cfg), numThreads: cfg.numThreads, provider: 'cpu', debug: 0 },
      maxNumSentences: 1,
    });
    return new SherpaOnnxProvider(tts, cfg);
  }

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    req.signal.throwIfAborted();
    const sid = req.voice !== undefined && /^\d+$/.test(req.voice) ? Number(req.voice) : this.#cfg.speakerId;
    const audio = await this.#tts.generateAsync({ text: req.text, sid, speed: this.#cfg.speed });
    if (req.signal.aborted) return;
    const pcm = new Int16Array(audio.samples.length);
    for (let i = 0; i < pcm.length; i++) {
      const v = Math.max(-1, Math.min(1, audio.samples[i] as number));
      pcm[i] = Math.round(v * 32767);
    }
    // hand it over in 100 ms pieces so a barge-in stops within one piece
    const step = Math.max(1, Math.round(audio.sampleRate / 10));
    for (let i = 0; i < pcm.length; i += step) {
      if (req.signal.aborted) return;
      yield { pcm: pcm.subarray(i, i + step), sampleRate: audio.sampleRate };
    }
  }

  async close(): Promise<void> {}
}
