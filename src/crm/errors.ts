import { VoicebotError } from '../core/errors.js';

/**
 * A failed delivery. `retryable` decides between backoff and the dead-letter list;
 * `retryAfterMs` (from Retry-After) overrides the backoff when the service asked for a pause.
 */
export class DeliveryError extends VoicebotError {
  constructor(
    message: string,
    retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message, { kind: retryable ? 'unavailable' : 'rejected', retryable });
  }
}

/**
 * The service answered, but about something else than what was asked (another ticket, user or contact): a proxy or
 * server misrouting answers. Retryable, counted apart, and never taken as a success.
 */
export class DeliveryMismatchError extends DeliveryError {
  constructor(what: string) {
    super(`answer does not match the request: ${what}`, true);
  }
}

/** Retry-After is seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The status label used in metrics: the HTTP status, or a short cause. */
export function statusLabel(err: unknown): string {
  if (err instanceof DeliveryMismatchError) return 'mismatch';
  if (err instanceof DeliveryError && err.status !== undefined) return String(err.status);
  if (err instanceof DeliveryError) return err.retryable ? 'error' : 'rejected';
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
  return 'error';
}
