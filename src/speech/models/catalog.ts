import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
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
  'small.en': {
    name: 'small.en',
    file: 'ggml-small.en.bin',
    bytes: 487_614_201,
    sha256: 'c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d',
  },
  'medium.en': {
    name: 'medium.en',
    file: 'ggml-medium.en.bin',
    bytes: 1_533_774_781,
    sha256: 'cc37e93478338ec7700281a7ac30a10128929eb8f427dda2e865faa8f6da4356',
  },
  tiny: {
    name: 'tiny',
    file: 'ggml-tiny.bin',
    bytes: 77_691_713,
    sha256: 'be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21',
  },
  base: {
    name: 'base',
    file: 'ggml-base.bin',
    bytes: 147_951_465,
    sha256: '60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe',
  },
  small: {
    name: 'small',
    file: 'ggml-small.bin',
    bytes: 487_601_967,
    sha256: '1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b',
  },
  medium: {
    name: 'medium',
    file: 'ggml-medium.bin',
    bytes: 1_533_763_059,
    sha256: '6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208',
  },
  'large-v3-turbo': {
    name: 'large-v3-turbo',
    file: 'ggml-large-v3-turbo.bin',
    bytes: 1_624_555_275,
    sha256: '1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69',
  },
  'large-v3': {
    name: 'large-v3',
    file: 'ggml-large-v3.bin',
    bytes: 3_095_033_483,
    sha256: '64d182b440b98d5203c4f9bd541544d84c605196c4f7b845dfa11fb23594d1e2',
  },
};

/** Test-only model: tiny.en shapes and vocabulary, no weights (returns empty text). */
export const STUB_MODEL_SHA256 = 'dd6b7796204a1cdf7164666423034e6e1a7a3e9f5c22327b4b7974c4584bd82d';

export const MODEL_BASE_URL = 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main';
/** Environment override for the model host (a mirror, or a local server in tests). */
export const MODEL_BASE_URL_ENV = 'VOICEBOT_MODEL_BASE_URL';

/** Where models are downloaded from: explicit argument (CLI flag) > environment > config > the public host. */
export function modelBaseUrl(fromConfig?: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return (explicit ?? env[MODEL_BASE_URL_ENV] ?? fromConfig ?? MODEL_BASE_URL).replace(/\/+$/, '');
}

/** ggml model files start with the magic 0x67676d6c, stored little-endian ("lmgg"). */
const GGML_MAGIC = Buffer.from('lmgg', 'latin1');

function hasGgmlMagic(path: string): boolean {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.equals(GGML_MAGIC);
}

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
  if (!statSync(path).isFile()) return { ok: false, path, problem: `model path ${path} is not a file`, fix };
  if (!hasGgmlMagic(path)) {
    return { ok: false, path, problem: `model file ${path} is not a ggml whisper model (corrupt or wrong file)`, fix };
  }
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
