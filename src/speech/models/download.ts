import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { SpeechConfig } from '../config.js';
import { WHISPER_MODELS, checkWhisperModel, modelBaseUrl, sha256File, type WhisperModelInfo } from './catalog.js';
import { VoicebotError } from '../../core/errors.js';

/** A model file could not be fetched or is not the file we expect: the user fixes the host or fetches it by hand. */
export class ModelDownloadError extends VoicebotError {
  constructor(message: string) {
    super(message, { kind: 'setup' });
  }
}

export interface DownloadProgress {
  /** bytes on disk so far, including a resumed part */
  received: number;
  /** expected size, when known */
  total: number | null;
  /** bytes already there when this transfer started (resume) */
  resumedFrom: number;
}

export interface DownloadOptions {
  dir: string;
  baseUrl: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** give up when no byte arrives for this long */
  stallTimeoutMs?: number;
  fetchImpl?: typeof fetch;
}

const exists = async (path: string) => (await stat(path).catch(() => null))?.size ?? -1;

/**
 * Fetch one model file into `dir`: into `<file>.part` first, resuming a previous part with an HTTP Range
 * request, then checks size and SHA-256 and renames it into place. A truncated transfer keeps the part (run
 * again to resume); a checksum mismatch deletes it.
 */
export async function downloadModel(info: WhisperModelInfo, opts: DownloadOptions): Promise<string> {
  const target = join(opts.dir, info.file);
  const part = `${target}.part`;
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/${info.file}`;
  await mkdir(opts.dir, { recursive: true });

  let offset = Math.max(0, await exists(part));
  if (offset > info.bytes) {
    await rm(part, { force: true });
    offset = 0;
  }
  const ended = offset < info.bytes ? await transfer(url, part, offset, info, opts) : true;
  const size = await exists(part);
  if (ended && size !== info.bytes) {
    // the host finished cleanly with another size: not a broken transfer but the wrong file
    await rm(part, { force: true });
    throw new ModelDownloadError(
      `${url} sent a file of ${size} bytes, expected ${info.bytes} for ${info.name}: wrong file or wrong model host`,
    );
  }
  if (size !== info.bytes) {
    throw new ModelDownloadError(
      `download of ${info.name} from ${url} stopped at ${size} of ${info.bytes} bytes; run the same command again to resume`,
    );
  }
  const sum = await sha256File(part, opts.signal);
  if (sum !== info.sha256) {
    await rm(part, { force: true });
    throw new ModelDownloadError(
      `download of ${info.name} from ${url} has the wrong SHA-256 (${sum}, expected ${info.sha256}); the partial file was deleted, run again`,
    );
  }
  await rename(part, target);
  return target;
}

async function transfer(
  url: string,
  part: string,
  offset: number,
  info: WhisperModelInfo,
  opts: DownloadOptions,
): Promise<boolean> {
  const stall = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;
  const stallMs = opts.stallTimeoutMs ?? 30_000;
  let timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  };
  try {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res: Response;
    try {
      res = await (opts.fetchImpl ?? fetch)(url, { headers, signal, redirect: 'follow' });
    } catch (err) {
      opts.signal?.throwIfAborted();
      throw new ModelDownloadError(`cannot reach ${url}: ${(err as Error).message}`);
    }
    if (res.status === 416) return true; // nothing left to send: the size/checksum check decides
    if (!res.ok || !res.body) {
      throw new ModelDownloadError(`${url} answered ${res.status} ${res.statusText}`);
    }
    // 200 to a Range request: the server sends the whole file, so start the part again
    const append = offset > 0 && res.status === 206;
    const start = append ? offset : 0;
    let received = start;
    const total = info.bytes;
    opts.onProgress?.({ received, total, resumedFrom: start });
    const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      received += chunk.length;
      kick();
      opts.onProgress?.({ received, total, resumedFrom: start });
    });
    const file = createWriteStream(part, { flags: append ? 'a' : 'w' });
    try {
      await pipeline(body, file, { signal });
      return true;
    } catch (err) {
      // writes already queued still land: wait, so the part's size is final when we return
      if (!file.closed) await new Promise<void>((r) => file.once('close', () => r()));
      opts.signal?.throwIfAborted();
      // keep the part: the next run resumes from it
      throw new ModelDownloadError(`download from ${url} failed after ${received} bytes: ${(err as Error).message}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

export interface EnsureModelOptions {
  /** fetch a missing or damaged catalog model instead of failing */
  download: boolean;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** overrides config and environment (CLI --base-url) */
  baseUrl?: string;
}

/**
 * The whisper model file the config names, ready to load: checked, and downloaded when missing or damaged if
 * `download` is set and the model is in the catalog. Otherwise throws with the exact command to run.
 */
export async function ensureWhisperModel(
  cfg: SpeechConfig['asr']['whisperCpp'],
  opts: EnsureModelOptions,
): Promise<string> {
  const check = await checkWhisperModel(cfg);
  if (check.ok) return check.path;
  const info = WHISPER_MODELS[cfg.model];
  if (!opts.download || !info || cfg.modelPath) {
    throw new ModelDownloadError(`${check.problem}. Fix: ${check.fix}`);
  }
  const baseUrl = modelBaseUrl(cfg.downloadBaseUrl, opts.baseUrl);
  try {
    const path = await downloadModel(info, {
      dir: cfg.modelDir,
      baseUrl,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return path;
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new ModelDownloadError(`${(err as Error).message}. To retry by hand: ${check.fix}`);
  }
}
