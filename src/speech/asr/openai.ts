import { writeWav } from '../../media/wav.js';
import type { SpeechConfig } from '../config.js';
import type { AsrEngine, Recognition, RecognizeOptions } from './engine.js';
import { deadline, type Deadline } from '../../core/deadline.js';
import { isRetryable, VoicebotError, type ErrorKind } from '../../core/errors.js';

type OpenAiAsrConfig = SpeechConfig['asr']['openai'];

/** The ASR server failed or refused; `retryable` follows the status (no answer, 5xx and 429 are worth a retry). */
export class AsrHttpError extends VoicebotError {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message, { kind: asrKind(status) });
  }
}

/** Unlike a CRM, an ASR server answering 408 or 409 will not do better a moment later. */
function asrKind(status: number | undefined): ErrorKind {
  return status === undefined || status >= 500 || status === 429 ? 'unavailable' : 'rejected';
}

interface VerboseJson {
  text?: string;
  language?: string;
  segments?: Array<{ avg_logprob?: number }>;
}

/** Servers answer with a language name ("english") or a code ("en"); the port speaks codes. */
const LANGUAGE_CODES: Record<string, string> = {
  english: 'en',
  german: 'de',
  french: 'fr',
  spanish: 'es',
  italian: 'it',
  dutch: 'nl',
  portuguese: 'pt',
  polish: 'pl',
};

export function confidenceFrom(body: VerboseJson): number {
  const logprobs = (body.segments ?? []).map((s) => s.avg_logprob).filter((p): p is number => typeof p === 'number');
  if (!body.text?.trim()) return 0;
  // verbose_json carries the mean token log-probability per segment: exp() of it is the mean-ish probability
  if (logprobs.length === 0) return 1; // the server did not say
  const mean = logprobs.reduce((a, b) => a + b, 0) / logprobs.length;
  return Math.min(1, Math.max(0, Math.exp(mean)));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });

/**
 * OpenAI-compatible transcription server (faster-whisper servers such as speaches, or a cloud API):
 * `POST {baseUrl}/audio/transcriptions`, multipart WAV, verbose_json. Final results only.
 * Retries 5xx, 429 and network errors with exponential backoff; each attempt has its own timeout.
 */
export class OpenAiAsrEngine implements AsrEngine {
  readonly provider = 'openai';
  readonly partials = false;
  readonly busy = false;

  readonly #cfg: OpenAiAsrConfig;
  readonly #fetchImpl: typeof fetch;

  constructor(cfg: OpenAiAsrConfig, fetchImpl: typeof fetch = fetch) {
    this.#cfg = cfg;
    this.#fetchImpl = fetchImpl;
  }

  async recognize(pcm16k: Int16Array, options: RecognizeOptions): Promise<Recognition> {
    const url = `${this.#cfg.baseUrl.replace(/\/+$/, '')}/audio/transcriptions`;
    const wav = writeWav(pcm16k, 16_000);
    const started = performance.now();
    let lastError: Error = new AsrHttpError(`ASR server ${url}: no attempt made`);
    for (let attempt = 0; attempt <= this.#cfg.retries; attempt++) {
      options.signal?.throwIfAborted();
      if (attempt > 0) await sleep(200 * 2 ** (attempt - 1) + Math.random() * 100, options.signal);
      try {
        const body = await this.#post(url, wav, options);
        const text = (body.text ?? '').trim();
        const language = body.language
          ? (LANGUAGE_CODES[body.language.toLowerCase()] ?? body.language)
          : this.#cfg.language;
        return {
          text,
          confidence: confidenceFrom(body),
          language,
          processingMs: Math.round(performance.now() - started),
          queueMs: 0,
        };
      } catch (err) {
        if (options.signal?.aborted) throw err;
        lastError = err as Error;
        if (!isRetryable(err)) throw err;
      }
    }
    throw lastError;
  }

  async #post(url: string, wav: Buffer, options: RecognizeOptions): Promise<VerboseJson> {
    const form = new FormData();
    form.append('file', new Blob([wav], { type: 'audio/wav' }), 'utterance.wav');
    form.append('model', this.#cfg.model);
    form.append('response_format', 'verbose_json');
    form.append('temperature', '0');
    if (this.#cfg.language) form.append('language', this.#cfg.language);
    const prompt = options.prompt ?? this.#cfg.prompt;
    if (prompt) form.append('prompt', prompt);
    const headers: Record<string, string> = {};
    if (this.#cfg.apiKey) headers.authorization = `Bearer ${this.#cfg.apiKey.reveal()}`;
    const limit = deadline(this.#cfg.timeoutMs, options.signal);
    try {
      return await this.#exchange(url, { method: 'POST', body: form, headers, signal: limit.signal }, limit, options);
    } finally {
      limit.dispose();
    }
  }

  async #exchange(url: string, init: RequestInit, limit: Deadline, options: RecognizeOptions): Promise<VerboseJson> {
    let res: Response;
    try {
      res = await this.#fetchImpl(url, init);
    } catch (err) {
      if (limit.timedOut && !options.signal?.aborted) {
        throw new AsrHttpError(`ASR server ${url} did not answer within ${this.#cfg.timeoutMs} ms`);
      }
      if (options.signal?.aborted) throw err;
      throw new AsrHttpError(`ASR server ${url} unreachable: ${(err as Error).message}`);
    }
    const raw = await res.text();
    if (!res.ok) {
      const hint = res.status === 401 || res.status === 403 ? ' (check speech.asr.openai.apiKey)' : '';
      throw new AsrHttpError(`ASR server ${url} answered ${res.status}${hint}: ${raw.slice(0, 200)}`, res.status);
    }
    try {
      return JSON.parse(raw) as VerboseJson;
    } catch {
      throw new AsrHttpError(`ASR server ${url} answered with invalid JSON: ${raw.slice(0, 100)}`, res.status);
    }
  }

  async close(): Promise<void> {}
}
