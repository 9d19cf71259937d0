import type { TtsChunk } from '../types.js';
import { TtsError } from './provider.js';
import { Pcm16Reader, WavStreamReader } from './wav-stream.js';
import { deadline } from '../../core/deadline.js';

/** fetch with a timeout on the answer's arrival (not on its body: speech may stream for long). */
export async function fetchAudio(
  url: string,
  init: RequestInit,
  opts: { timeoutMs: number; signal: AbortSignal; what: string },
): Promise<Response> {
  const limit = deadline(opts.timeoutMs, opts.signal);
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: limit.signal });
  } catch (err) {
    limit.dispose();
    opts.signal.throwIfAborted();
    if (limit.timedOut) throw new TtsError(`${opts.what} at ${url} did not answer within ${opts.timeoutMs} ms`);
    throw new TtsError(`${opts.what} at ${url} unreachable: ${(err as Error).message}`);
  }
  // the answer is here: from now on only the caller's signal may cut the streamed body
  limit.stopTimer();
  if (!res.ok || !res.body) {
    const body = await res.text().catch(() => '');
    const hint = res.status === 401 || res.status === 403 ? ' (check the apiKey)' : '';
    throw new TtsError(`${opts.what} at ${url} answered ${res.status}${hint}: ${body.slice(0, 200)}`);
  }
  return res;
}

/** Streams a WAV body (or raw PCM16 at `rawRate`) as chunks, stopping as soon as `signal` aborts. */
export async function* audioChunks(res: Response, signal: AbortSignal, rawRate?: number): AsyncGenerator<TtsChunk> {
  const wav = rawRate ? null : new WavStreamReader();
  const raw = rawRate ? new Pcm16Reader() : null;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((err: unknown) => {
        if (signal.aborted) return { done: true as const, value: undefined };
        throw new TtsError(`speech stream broke off: ${(err as Error).message}`);
      });
      if (done || signal.aborted) return;
      const pcm = wav ? wav.push(value) : (raw as Pcm16Reader).push(value);
      if (pcm.length > 0) yield { pcm, sampleRate: wav ? wav.sampleRate : (rawRate as number) };
    }
  } finally {
    signal.removeEventListener('abort', cancel);
    cancel();
  }
}
