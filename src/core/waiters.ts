import { systemClock, type Clock } from './clock.js';

/**
 * The one way to wait for something another part of the code will announce: playout drained, a channel entered
 * Stasis, an outbox emptied, the bot did something. Each wait can be bounded (timeout on an injected clock) and
 * abandoned (AbortSignal); either way it leaves the set at once, so `size` is a leak check.
 */
export interface WaitOptions {
  signal?: AbortSignal | undefined;
  /** reject after this long (on `clock`) with `timeoutError()` */
  timeoutMs?: number | undefined;
  timeoutError?: () => Error;
  clock?: Clock;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export class Waiters<T = void> {
  readonly #pending = new Set<Pending<T>>();

  /** what an abort with a non-Error reason rejects with */
  constructor(readonly abortMessage = 'wait aborted') {}

  /** how many waits are pending */
  get size(): number {
    return this.#pending.size;
  }

  /** Resolves at the next `resolveAll()`; rejects on abort (with the reason when it is an Error) or timeout. */
  wait(opts: WaitOptions | AbortSignal = {}): Promise<T> {
    const {
      signal,
      timeoutMs,
      timeoutError,
      clock = systemClock,
    } = opts instanceof AbortSignal ? { signal: opts } : opts;
    if (signal?.aborted) return Promise.reject(abortReason(signal, this.abortMessage));
    return new Promise<T>((resolve, reject) => {
      let timer: unknown = null;
      const settle = (): void => {
        this.#pending.delete(pending);
        signal?.removeEventListener('abort', onAbort);
        if (timer !== null) clock.clearTimeout(timer);
      };
      const pending: Pending<T> = {
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = (): void => pending.reject(abortReason(signal!, this.abortMessage));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined)
        timer = clock.setTimeout(
          () => pending.reject(timeoutError?.() ?? new Error(`timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      this.#pending.add(pending);
    });
  }

  /** Wakes every pending wait. */
  resolveAll(value: T): void {
    for (const pending of [...this.#pending]) pending.resolve(value);
  }

  /** Fails every pending wait (the thing waited for will never happen). */
  rejectAll(err: unknown): void {
    for (const pending of [...this.#pending]) pending.reject(err);
  }
}

/** The next `event` from `emitter` (its arguments), bounded like `Waiters.wait`. */
export function nextEvent<A extends unknown[]>(
  emitter: {
    on(event: string, listener: (...args: A) => void): unknown;
    off(event: string, listener: (...args: A) => void): unknown;
  },
  event: string,
  opts: WaitOptions = {},
): Promise<A> {
  const waiters = new Waiters<A>(`aborted waiting for ${event}`);
  const listener = (...args: A): void => waiters.resolveAll(args);
  emitter.on(event, listener);
  return waiters.wait(opts).finally(() => emitter.off(event, listener));
}

/** Resolves when `signal` aborts (never rejects), so it can take part in a race. */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The reason a signal aborted, as an Error (a string or number reason becomes `message`). */
export function abortReason(signal: AbortSignal, message = 'aborted'): Error {
  return signal.reason instanceof Error ? (signal.reason as Error) : new Error(message);
}
