import { isRetryableStatus } from '../core/errors.js';
import { DeliveryError, parseRetryAfter } from './errors.js';
import { deadline } from '../core/deadline.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** JSON-serialisable body, or raw bytes (then set content-type yourself). */
  json?: unknown;
  body?: Uint8Array;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** 'ignore': any 2xx body is fine (webhook receivers answer "OK", HTML, nothing…) */
  response?: 'json' | 'ignore';
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * One HTTP exchange with a bound, turned into a DeliveryError on any failure.
 * Vendor clients build on this; it never logs (bodies may hold personal data).
 */
export async function requestJson<T>(req: HttpRequest): Promise<HttpResponse<T>> {
  const limit = deadline(req.timeoutMs, req.signal);
  const signal = limit.signal;
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | Uint8Array | undefined = req.body;
  if (req.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(req.json);
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(req.url, { method: req.method, headers, body, signal });
    text = await res.text();
  } catch (err) {
    if (req.signal?.aborted) throw err; // the caller gave up: not a delivery failure
    const what = limit.timedOut ? `timed out after ${req.timeoutMs} ms` : (err as Error).message;
    // A write that timed out may still be running on the server: give it as long again to land, so the
    // retry's "did it already happen?" check can see it.
    const settleMs = limit.timedOut && req.method !== 'GET' ? req.timeoutMs : undefined;
    throw new DeliveryError(`${req.method} ${pathOf(req.url)}: ${what}`, true, undefined, settleMs);
  } finally {
    limit.dispose();
  }
  if (!res.ok) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    throw new DeliveryError(
      `${req.method} ${pathOf(req.url)} → ${res.status} ${brief(text)}`,
      isRetryableStatus(res.status),
      res.status,
      retryAfterMs,
    );
  }
  let parsed: unknown = undefined;
  if (text.length > 0 && req.response !== 'ignore') {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DeliveryError(
        `${req.method} ${pathOf(req.url)} → ${res.status} with a non-JSON body`,
        true,
        res.status,
      );
    }
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** Path only: query strings can hold phone numbers. */
const pathOf = (url: string) => new URL(url).pathname;
const brief = (text: string) => text.replace(/\s+/g, ' ').slice(0, 200);
