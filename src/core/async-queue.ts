/**
 * The one single-consumer async queue: producers push synchronously (from event handlers), the consumer awaits.
 * Carries caller audio into ASR, a call's inputs into the dialog, recognitions out of ASR and synthesised audio
 * out of TTS.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #reader: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  #ended = false;
  #error: unknown = undefined;

  /** end() or fail() was called: nothing more will be accepted */
  get ended(): boolean {
    return this.#ended;
  }
  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#ended) return;
    const reader = this.#reader;
    if (reader) {
      this.#reader = null;
      reader.resolve({ value: item, done: false });
    } else this.#items.push(item);
  }

  /** No more items: the consumer drains what is queued, then sees the end. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const reader = this.#reader;
    this.#reader = null;
    reader?.resolve({ value: undefined, done: true });
  }

  /**
   * End with an error: the consumer still gets what was queued before it (a sentence synthesised up to a provider
   * failure is still worth playing), then its next read rejects.
   */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error ?? new Error('queue failed');
    const reader = this.#reader;
    this.#reader = null;
    reader?.reject(this.#error);
  }

  /** Next item, or done; rejects if the queue failed or `signal` aborts (the listener is removed either way). */
  next(signal?: AbortSignal): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift() as T, done: false });
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#reader) return Promise.reject(new Error('AsyncQueue supports one reader at a time'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      const onAbort = () => {
        this.#reader = null;
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#reader = {
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
