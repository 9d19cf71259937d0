import type { CallSession, SessionStore } from './store.js';

/** Single-instance store: a Map with per-entry expiry (checked on read, swept on write). */
export class MemorySessionStore implements SessionStore {
  readonly #entries = new Map<string, { session: CallSession; expiresAt: number }>();
  readonly #ttlSeconds: number;

  readonly #now: () => number;

  constructor(ttlSeconds: number = 3600, now: () => number = Date.now) {
    this.#ttlSeconds = ttlSeconds;
    this.#now = now;
  }

  get(callId: string): Promise<CallSession | undefined> {
    const e = this.#entries.get(callId);
    if (!e) return Promise.resolve(undefined);
    if (e.expiresAt <= this.#now()) {
      this.#entries.delete(callId);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(structuredClone(e.session));
  }

  put(session: CallSession): Promise<void> {
    this.#sweep();
    this.#entries.set(session.callId, {
      session: structuredClone(session),
      expiresAt: this.#now() + this.#ttlSeconds * 1000,
    });
    return Promise.resolve();
  }

  /** Synchronous from read to write: nothing can come between them. */
  compareAndSet(session: CallSession, expectedRev: number): Promise<number | null> {
    const e = this.#entries.get(session.callId);
    const current = e && e.expiresAt > this.#now() ? e.session : undefined;
    if ((current?.rev ?? 0) !== expectedRev) return Promise.resolve(null);
    void this.put({ ...session, rev: expectedRev + 1 });
    return Promise.resolve(expectedRev + 1);
  }

  delete(callId: string): Promise<void> {
    this.#entries.delete(callId);
    return Promise.resolve();
  }

  list(): Promise<CallSession[]> {
    this.#sweep();
    return Promise.resolve([...this.#entries.values()].map((e) => structuredClone(e.session)));
  }

  get size(): number {
    return this.#entries.size;
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(id);
  }
}
