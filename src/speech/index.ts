import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { createAsr } from './asr/index.js';
import { createTtsAsync } from './tts/index.js';
import type { Asr, Tts } from './types.js';
import { createVadFactory, probeVadModel, type SileroVadFactory } from './vad/silero.js';

export { createAsr, AsrBusyError, AsrHttpError, WhisperSetupError } from './asr/index.js';
export { createTts, createTtsAsync, ttsToFrames, ttsToMulawFrames, TtsError, TtsSetupError } from './tts/index.js';
export { createVadFactory, VadModelError, type SileroVadFactory } from './vad/silero.js';
export { ensureWhisperModel, ModelDownloadError } from './models/download.js';

export interface Speech {
  vad: SileroVadFactory;
  asr: Asr;
  tts: Tts;
  close(): Promise<void>;
}

/**
 * VAD, ASR and TTS from the speech config, ready to share between calls. Throws a clear error (VadModelError,
 * WhisperSetupError, ModelDownloadError, TtsSetupError) when a model or voice is missing; nothing here can take
 * the process down on a bad file. A missing whisper catalog model is downloaded first when autoDownload is on.
 */
export async function createSpeech(config: Config, logger: Logger, metrics: Registry): Promise<Speech> {
  const log = logger.child({ concern: 'speech' });
  await probeVadModel(config.speech.vad.modelPath);
  const vad = createVadFactory(config.speech.vad, log, metrics, config.telephony.maxConcurrentCalls, {
    inferenceThreads: config.speech.vad.inferenceThreads,
  });
  let tts: Tts;
  let asr: Asr;
  try {
    tts = await createTtsAsync(config.speech.tts, log, metrics);
    try {
      asr = await createAsr(config.speech.asr, log, metrics);
    } catch (err) {
      await tts.close();
      throw err;
    }
  } catch (err) {
    await vad.close();
    throw err;
  }
  return {
    vad,
    asr,
    tts,
    async close() {
      await Promise.allSettled([asr.close(), tts.close(), vad.close()]);
    },
  };
}
