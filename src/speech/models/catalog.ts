import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { SpeechConfig } from '../config.js';

export interface WhisperModelInfo {
  name: string;
  file: string;
  bytes: number;
  sha256: string;
}

/** whisper.cpp's published ggml models with their SHA-256 (from the model host's LFS metadata). */
export const WHISPER_MODELS: Record<string, WhisperModelInfo> = {
  'tiny.en': {
    name: 'tiny.en',
    file: 'ggml-tiny.en.bin',
    bytes: 77_704_715,
    sha256: '921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f',
  },
  'base.en': {
    name: 'base.en',
    file: 'ggml-base.en.bin',
    bytes: 147_964_211,
    sha256: 'a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002',
  },
};

/** Test-only model: tiny.en shapes and vocabulary, no weights (returns empty text). */
export const STUB_MODEL_SHA256 = 'dd6b7796204a1cdf7164666423034e6e1a7a3e9f5c22327b4b7974c4584bd82d';

export const MODEL_BASE_URL = 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main';

/** The model file the config points at: an explicit modelPath, else modelDir/ggml-<model>.bin. */
export function whisperModelPath(cfg: SpeechConfig['asr']['whisperCpp']): string {
  if (cfg.modelPath) return resolve(cfg.modelPath);
  const info = WHISPER_MODELS[cfg.model];
  return resolve(join(cfg.modelDir, info ? info.file : `ggml-${cfg.model}.bin`));
}

export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type ModelCheck =
  | { ok: true; path: string; verified: 'catalog' | 'stub' | 'unknown' }
  | { ok: false; path: string; problem: string; fix: string };

/** Check a whisper model file before anything loads it (a bad path crashes whisper.cpp). */
export async function checkWhisperModel(cfg: SpeechConfig['asr']['whisperCpp']): Promise<ModelCheck> {
  const path = whisperModelPath(cfg);
  const fix = `voicebot models download ${WHISPER_MODELS[cfg.model] ? cfg.model : 'base.en'}`;
  if (!existsSync(path)) return { ok: false, path, problem: `model file ${path} not found`, fix };
  const info = Object.values(WHISPER_MODELS).find((m) => basename(path) === m.file);
  const size = statSync(path).size;
  if (info && size !== info.bytes) {
    return { ok: false, path, problem: `model file ${path} has ${size} bytes, expected ${info.bytes}`, fix };
  }
  const sum = await sha256File(path);
  if (sum === STUB_MODEL_SHA256) return { ok: true, path, verified: 'stub' };
  if (info && sum !== info.sha256) {
    return { ok: false, path, problem: `model file ${path} has the wrong SHA-256 (corrupt or partial)`, fix };
  }
  if (!info && size < 1024) return { ok: false, path, problem: `model file ${path} is too small to be a model`, fix };
  return { ok: true, path, verified: info ? 'catalog' : 'unknown' };
}
