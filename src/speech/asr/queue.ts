import { VoicebotError } from '../../core/errors.js';

/** The shared recogniser is busy beyond its queue limit: the caller should degrade (e.g. ask to repeat). */
export class AsrBusyError extends VoicebotError {
  constructor(message: string) {
    super(message, { kind: 'busy' });
  }
}

interface Waiter {
  start: () => void;
  fail: (err: unknown) => void;
  urgent: boolean;
}

/**
 * Runs at most `parallelism` jobs at once and holds at most `limit` waiting; beyond that it refuses at once.
 * FIFO within each class, so one call's long utterance cannot starve another's; urgent jobs (final results a
 * caller is waiting for) go ahead of the others (previews). Waiting jobs leave the queue when aborted.
 */
export class WorkQueue {
  #active = 0;
  readonly #waiting: Waiter[] = [];
  readonly #parallelism: number;
  readonly #limit: number;
  readonly #describe: string;

  constructor(parallelism: number, limit: number, describe: string) {
    this.#parallelism = parallelism;
    this.#limit = limit;
    this.#describe = describe;
  }

  /** true when a new job would have to wait */
  get busy(): boolean {
    return this.#active >= this.#parallelism || this.#waiting.length > 0;
  }

  get depth(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#active;
  }

  /** true when a new job would wait, or would take the last `reserve` free slots (kept for urgent jobs) */
  wouldCrowd(reserve: number): boolean {
    return this.#waiting.length > 0 || this.#active + Math.min(reserve, this.#parallelism - 1) >= this.#parallelism;
  }

  /** Runs `job` when a slot is free; resolves with its result and how long it waited. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal, urgent = false): Promise<{ result: T; queueMs: number }> {
    signal?.throwIfAborted();
    const queuedAt = performance.now();
    if (this.#active < this.#parallelism) {
      this.#active++;
    } else {
      if (this.#waiting.length >= this.#limit) {
        throw new AsrBusyError(
          `${this.#describe}: queue full (${this.#limit} waiting); raise the queue limit or parallelism`,
        );
      }
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          fail: reject,
          urgent,
        };
        const onAbort = () => {
          const i = this.#waiting.indexOf(waiter);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(signal?.reason ?? new Error('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        // urgent jobs queue behind other urgent ones only
        const at = urgent ? this.#waiting.findIndex((w) => !w.urgent) : -1;
        if (at >= 0) this.#waiting.splice(at, 0, waiter);
        else this.#waiting.push(waiter);
      });
      // the finishing job handed its slot over: `active` already counts this one
    }
    const queueMs = performance.now() - queuedAt;
    try {
      return { result: await job(), queueMs };
    } finally {
      const next = this.#waiting.shift();
      if (next) next.start();
      else this.#active--;
    }
  }

  /** Refuse everything still waiting (shutdown). */
  drain(reason: Error): void {
    for (const w of this.#waiting.splice(0)) w.fail(reason);
  }
}
