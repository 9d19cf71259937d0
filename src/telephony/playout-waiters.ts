/**
 * The pending `CallLeg.waitForPlayout` calls of one leg. The leg decides when its queued bot audio has
 * played (or the call ended) and calls `resolveAll()`; an aborted wait leaves the set at once, so
 * `size` is a leak check.
 */
export class PlayoutWaiters {
  readonly #waiters = new Set<() => void>();

  /** how many waits are pending */
  get size(): number {
    return this.#waiters.size;
  }

  /** Resolves at the next `resolveAll()`; rejects when `signal` aborts (with its reason when that is an Error). */
  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#waiters.delete(done);
        reject(abortError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(done);
    });
  }

  /** Wakes every pending wait (audio drained, cleared, or the call ended). */
  resolveAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const done of waiters) done();
  }
}

function abortError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error('waitForPlayout aborted');
}
