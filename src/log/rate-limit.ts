import type { Logger } from './logger.js';

export interface WarnLimitOptions {
  /** warnings of one kind logged per window before the rest are only counted */
  burst?: number;
  windowMs?: number;
  now?: () => number;
}

/**
 * Warnings a client can trigger (a garbage frame, a bad packet) at line rate must not turn into a log line each:
 * five seconds of garbage once wrote 10 MB of logs. One limiter per connection: each kind logs its first `burst`
 * lines per window, the rest are counted and reported as one summary line when the window turns or the
 * connection ends. Metrics still count every event; this only bounds the logs.
 */
export class WarnLimiter {
  readonly #log: Logger;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { windowStart: number; logged: number; suppressed: number }>();

  constructor(log: Logger, opts: WarnLimitOptions = {}) {
    this.#log = log;
    this.#burst = opts.burst ?? 3;
    this.#windowMs = opts.windowMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.#now();
    let state = this.#kinds.get(kind);
    if (!state) this.#kinds.set(kind, (state = { windowStart: now, logged: 0, suppressed: 0 }));
    if (now - state.windowStart >= this.#windowMs) {
      this.#summarise(kind, state);
      state.windowStart = now;
      state.logged = 0;
    }
    if (state.logged < this.#burst) {
      state.logged++;
      this.#log.warn({ kind, ...fields }, msg);
    } else {
      state.suppressed++;
    }
  }

  /** Report what was held back (call when the connection ends). */
  flush(): void {
    for (const [kind, state] of this.#kinds) this.#summarise(kind, state);
  }

  #summarise(kind: string, state: { suppressed: number }): void {
    if (state.suppressed === 0) return;
    this.#log.warn({ kind, suppressed: state.suppressed }, 'similar warnings suppressed (counted in metrics)');
    state.suppressed = 0;
  }
}
