import type { Clock } from '../core/clock.js';
import { VoicebotError } from '../core/errors.js';
import type { TransferOutcome, TransferResult } from './port.js';

/**
 * The one wait for a dialled leg, a transfer's agent or an outbound callee, on every backend: the first of the
 * peer's report (`decide`), the ring timeout (plus the backend's grace) on the injected clock, or the abort signal
 * settles it; later reports are ignored. `dispose` (always, in a finally) drops the timer and the abort listener.
 */
export class DialWait {
  readonly result: Promise<TransferResult>;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  #settle!: (result: TransferResult) => void;
  #decided: TransferResult | null = null;
  #timer: unknown = null;

  constructor(opts: { clock: Clock; signal?: AbortSignal | undefined }) {
    this.#clock = opts.clock;
    this.#signal = opts.signal;
    this.result = new Promise((resolve) => (this.#settle = resolve));
    if (this.#signal?.aborted) this.#onAbort();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** how the leg ended up, once decided */
  get decided(): TransferResult | null {
    return this.#decided;
  }

  /** The peer reported an outcome (or the caller gave up on it); only the first one counts. */
  decide(result: TransferResult): void {
    if (this.#decided) return;
    this.#decided = result;
    this.dispose();
    this.#settle(result);
  }

  /** The leg rings from now on: with no report within `timeoutMs`, it ends as `onTimeout`. */
  ring(timeoutMs: number, onTimeout: TransferResult): void {
    if (this.#decided || this.#timer !== null) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.decide(onTimeout);
    }, timeoutMs);
  }

  dispose(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  #onAbort = (): void => this.decide({ outcome: 'failed', detail: 'aborted' });
}

/** The callee of an outbound call did not answer (every backend's originate rejects with this). */
export class OriginateError extends VoicebotError {
  constructor(
    readonly outcome: TransferOutcome,
    readonly detail: string,
  ) {
    super(`outbound call not answered: ${outcome} (${detail})`, { kind: 'rejected' });
  }
}
