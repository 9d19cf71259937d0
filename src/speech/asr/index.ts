import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import type { SpeechConfig } from '../config.js';
import { ensureWhisperModel } from '../models/download.js';
import type { Asr } from '../types.js';
import type { AsrEngine } from './engine.js';
import { OpenAiAsrEngine } from './openai.js';
import { StreamingAsr } from './streaming.js';
import { WhisperCppEngine } from './whisper-cpp.js';

export { AsrBusyError } from './queue.js';
export { WhisperSetupError } from './whisper-cpp.js';
export { AsrHttpError } from './openai.js';

/**
 * The configured ASR provider behind the Asr port. whisper-cpp loads its one shared model here (downloading a
 * missing catalog model first when `autoDownload` is on) and throws WhisperSetupError, never crashes, on a bad file.
 */
export async function createAsr(cfg: SpeechConfig['asr'], logger: Logger, metrics: Registry): Promise<Asr> {
  const log = logger.child({ component: 'asr', provider: cfg.provider });
  let engine: AsrEngine;
  let language: string;
  let prompt: string | undefined;
  if (cfg.provider === 'openai') {
    engine = new OpenAiAsrEngine(cfg.openai);
    language = cfg.openai.language;
    prompt = cfg.openai.prompt || undefined;
  } else {
    const wc = cfg.whisperCpp;
    if (wc.autoDownload) {
      let lastPct = -10;
      await ensureWhisperModel(wc, {
        download: true,
        onProgress: (p) => {
          const pct = p.total ? Math.floor((p.received / p.total) * 100) : 0;
          if (pct >= lastPct + 10) {
            lastPct = pct;
            log.info({ model: wc.model, percent: pct }, 'downloading whisper model');
          }
        },
      });
    }
    engine = await WhisperCppEngine.create(wc, log, metrics);
    language = wc.language;
    prompt = wc.initialPrompt || undefined;
  }
  const partialIntervalMs = cfg.whisperCpp.partialIntervalMs;
  return new StreamingAsr(engine, { partialIntervalMs, language, prompt }, log, metrics);
}
