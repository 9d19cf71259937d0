/**
 * The one error type the product raises on purpose. `kind` says what sort of failure it is (start-up code and the
 * CLI branch on it, never on class names), `retryable` is the one place a retry loop (CRM outbox, HTTP providers)
 * asks whether trying again can help, and `fix` tells the user what to do about it.
 */
export type ErrorKind =
  /** bad configuration: start-up stops, naming the key */
  | 'config'
  /** a file, model, voice or binary the user must install or repair */
  | 'setup'
  /** a peer could not be reached, failed (5xx) or asked us to slow down: trying again later may work */
  | 'unavailable'
  /** a peer refused this request (4xx): sending it again will not help */
  | 'rejected'
  /** our own capacity is used up (a queue is full) */
  | 'busy'
  /** something did not happen in time */
  | 'timeout'
  /** a peer sent something we cannot use */
  | 'protocol';

export interface VoicebotErrorOptions {
  kind: ErrorKind;
  /** default: true for unavailable, busy and timeout; false for the rest */
  retryable?: boolean;
  /** what the user should do, in one sentence */
  fix?: string;
  cause?: unknown;
}

const RETRYABLE_KINDS = new Set<ErrorKind>(['unavailable', 'busy', 'timeout']);

export class VoicebotError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly fix: string | undefined;

  constructor(message: string, opts: VoicebotErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.kind = opts.kind;
    this.retryable = opts.retryable ?? RETRYABLE_KINDS.has(opts.kind);
    this.fix = opts.fix;
  }
}

/**
 * Whether trying again can help. Errors we raise say so themselves; anything else (a socket reset, DNS, a fetch
 * that failed before any answer) is a transport failure, worth another try.
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof VoicebotError ? err.retryable : true;
}

/** A problem the user fixes before the bot can start (config, model files, voices): no stack trace, exit 2. */
export function isSetupProblem(err: unknown): err is VoicebotError {
  return err instanceof VoicebotError && (err.kind === 'setup' || err.kind === 'config');
}

/**
 * HTTP statuses worth retrying: no answer (0), 5xx, 408 (timeout), 409 (conflict, e.g. an idempotent request still
 * running) and 429. Any other 4xx will not heal.
 */
export function isRetryableStatus(status: number): boolean {
  if (status === 408 || status === 409 || status === 429) return true;
  return status >= 500 || status < 400;
}

/** The kind for an HTTP failure with `status` (undefined: no answer at all). */
export function httpErrorKind(status: number | undefined): ErrorKind {
  return status === undefined || isRetryableStatus(status) ? 'unavailable' : 'rejected';
}
