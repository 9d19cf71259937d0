import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ProxyAgent, fetch as undiciFetch } from 'undici';
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
  /** proxy settings come from here (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, either case); default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * fetch that honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY, either case (Node 20's own fetch ignores them). The proxy
 * is chosen per URL the way curl does; through it the request is tunnelled with CONNECT. No proxy for the URL: the
 * plain global fetch.
 */
export function proxyAwareFetch(env: NodeJS.ProcessEnv = process.env): typeof fetch {
  const agents = new Map<string, ProxyAgent>();
  return ((input: string | URL, init?: RequestInit) => {
    const proxy = proxyFor(new URL(String(input)), env);
    if (!proxy) return fetch(input, init);
    let dispatcher = agents.get(proxy);
    if (!dispatcher) agents.set(proxy, (dispatcher = new ProxyAgent(proxy)));
    return undiciFetch(input, { ...(init as object), dispatcher });
  }) as unknown as typeof fetch;
}

/** The proxy URL for `url`, or undefined (no proxy set for its scheme, or NO_PROXY matches its host). */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const get = (name: string) => env[name.toLowerCase()] ?? env[name];
  const proxy =
    url.protocol === 'https:' ? get('HTTPS_PROXY') : url.protocol === 'http:' ? get('HTTP_PROXY') : undefined;
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of (get('NO_PROXY') ?? '').split(/[\s,]+/).filter(Boolean)) {
    if (raw === '*') return undefined;
    const [name = '', onlyPort] = splitHostPort(raw.toLowerCase());
    if (onlyPort && onlyPort !== port) continue;
    const bare = name.replace(/^\*?\./, '');
    if (host === bare || host.endsWith(`.${bare}`)) return undefined;
  }
  return proxy;
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address (more than one colon: no port). */
function splitHostPort(entry: string): [string, string | undefined] {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return [bracketed[1] ?? '', bracketed[2]];
  if (entry.split(':').length !== 2) return [entry, undefined];
  const [host = '', port] = entry.split(':');
  return [host, port];
}

/**
 * What to do when the bot cannot fetch a model itself (offline, a proxy that refuses, a blocked host): the file, the
 * place, the checksum, and the settings that would let the download work.
 */
export function manualSteps(info: WhisperModelInfo, dir: string, url: string): string {
  const target = resolve(dir, info.file);
  return (
    `To install it by hand: download ${url} (${info.bytes} bytes) on a machine that can, save it as ${target}, ` +
    `and check that \`sha256sum ${target}\` prints ${info.sha256}. ` +
    `To let the download work: behind a proxy set HTTPS_PROXY (and NO_PROXY for hosts reached directly); ` +
    `for a mirror use --base-url, VOICEBOT_MODEL_BASE_URL or speech.asr.whisperCpp.downloadBaseUrl.`
  );
}

/** A transfer that could not complete: offline, refused, HTTP error. Carries the manual steps. */
export class ModelUnreachableError extends ModelDownloadError {}

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
  let ended = true;
  try {
    if (offset < info.bytes) ended = await transfer(url, part, offset, info, opts);
  } catch (err) {
    if (err instanceof ModelUnreachableError) {
      throw new ModelUnreachableError(`${err.message}. ${manualSteps(info, opts.dir, url)}`);
    }
    throw err;
  }
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
      const doFetch = opts.fetchImpl ?? proxyAwareFetch(opts.env);
      res = await doFetch(url, { headers, signal, redirect: 'follow' });
    } catch (err) {
      opts.signal?.throwIfAborted();
      throw new ModelUnreachableError(`cannot reach ${url}: ${describeCause(err)}`);
    }
    if (res.status === 416) return true; // nothing left to send: the size/checksum check decides
    if (!res.ok || !res.body) {
      throw new ModelUnreachableError(`${url} answered ${res.status} ${res.statusText}`);
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
      throw new ModelUnreachableError(
        `download from ${url} failed after ${received} bytes (kept; the next run resumes): ${(err as Error).message}`,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}

/** fetch's "fetch failed" hides the reason (DNS, refused, proxy) in `cause`. */
function describeCause(err: unknown): string {
  const e = err as Error & { cause?: { message?: string; code?: unknown } };
  if (!e.cause) return e.message;
  const code = typeof e.cause.code === 'string' ? `${e.cause.code} ` : '';
  return `${e.message}: ${code}${e.cause.message ?? ''}`.replace(/\.+$/, '');
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
