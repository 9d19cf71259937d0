/**
 * A single-consumer async queue: the producer pushes synchronously (from event handlers),
 * the consumer awaits. Used for the caller-audio stream into ASR and for the call's input queue.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  #ended = false;
  #error: unknown = undefined;

  get ended(): boolean {
    return this.#ended;
  }
  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#ended) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w.resolve({ value: item, done: false });
    } else this.#items.push(item);
  }

  /** No more items: the consumer drains what is queued, then sees the end. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const w = this.#waiter;
    this.#waiter = null;
    w?.resolve({ value: undefined, done: true });
  }

  /** End with an error: queued items are dropped, the consumer's next read rejects. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? new Error('queue failed');
    this.#items.length = 0;
    const w = this.#waiter;
    this.#waiter = null;
    w?.reject(this.#error);
  }

  /** Next item, or done; rejects if the queue failed or `signal` aborts (the listener is removed either way). */
  next(signal?: AbortSignal): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift() as T, done: false });
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) return Promise.reject(new Error('AsyncQueue supports one reader at a time'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      const onAbort = () => {
        this.#waiter = null;
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
