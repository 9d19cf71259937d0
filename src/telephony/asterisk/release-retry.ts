import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../log/logger.js';
import { isGone } from './ari-client.js';

/** Ids of everything the bot creates on Asterisk: `vb-<kind>-<app>-<uuid>`, so a resync can tell ours apart. */
export function ownId(kind: 'media' | 'agent' | 'out' | 'bridge' | 'snoop', app: string, uuid: string): string {
  return `vb-${kind}-${app}-${uuid}`;
}

/** True for a channel or bridge id this app created (see ownId). */
export function isOwnId(id: string, app: string): boolean {
  return /^vb-(media|agent|out|bridge|snoop)-/.test(id) && id.slice(id.indexOf('-', 3) + 1).startsWith(`${app}-`);
}

/**
 * Release steps that failed (Asterisk's HTTP side down while its event socket stayed up, a timeout) are retried
 * with backoff until they succeed or the object is gone (404/422): a channel or bridge is never left behind for
 * good. One pending retry per key; stop() abandons them (the next resync sweeps what is left).
 */
export class ReleaseRetrier {
  readonly #pending = new Map<string, unknown>();
  #stopped = false;
  readonly #logger: Logger;
  readonly #opts: { minMs: number; maxMs: number };
  readonly #clock: Clock;

  constructor(logger: Logger, opts: { minMs: number; maxMs: number }, clock: Clock = systemClock) {
    this.#logger = logger;
    this.#opts = opts;
    this.#clock = clock;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Retry `step` later. `usable`: whether the connection it goes over can still carry it (a per-call websocket
   * closed for good cannot): once not, the step is given up with a warning (the call's next instance, or a resync,
   * finds what it left).
   */
  retry(key: string, step: () => Promise<unknown>, usable: () => boolean = () => true, attempt = 1): void {
    if (this.#stopped || this.#pending.has(key)) return;
    if (!usable()) {
      this.#logger.warn({ step: key }, 'release step given up: its ARI connection is closed');
      return;
    }
    const delay = Math.min(this.#opts.maxMs, this.#opts.minMs * 2 ** (attempt - 1));
    const timer = this.#clock.setTimeout(() => {
      this.#pending.delete(key);
      step().then(
        () => this.#logger.info({ step: key, attempt }, 'release step retried: done'),
        (err: unknown) => {
          if (isGone(err)) return;
          this.#logger.warn(
            { step: key, attempt, err: err instanceof Error ? err.message : String(err) },
            'release step failed again',
          );
          this.retry(key, step, usable, attempt + 1);
        },
      );
    }, delay);
    this.#pending.set(key, timer);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#pending.values()) this.#clock.clearTimeout(timer);
    this.#pending.clear();
  }

  start(): void {
    this.#stopped = false;
  }
}
