import type { CallState } from '../core/call-events.js';
import type { Logger } from '../log/logger.js';
import type { CallSession, SessionStore } from '../session/store.js';
import type { CallContext } from './call-context.js';

/**
 * Writes the call's session on every state change, one write at a time, newest state wins.
 * Keeps `backendData` a telephony backend stored. Store errors are logged, never thrown.
 */
export class SessionSaver {
  #chain: Promise<void> = Promise.resolve();
  #pending: CallState | null = null;
  readonly #store: SessionStore;
  readonly #ctx: CallContext;
  readonly #logger: Logger;

  constructor(store: SessionStore, ctx: CallContext, logger: Logger) {
    this.#store = store;
    this.#ctx = ctx;
    this.#logger = logger;
  }

  save(state: CallState): void {
    const first = this.#pending === null;
    this.#pending = state;
    if (first) this.#chain = this.#chain.then(() => this.#write());
  }

  async #write(): Promise<void> {
    const state = this.#pending;
    this.#pending = null;
    if (!state) return;
    try {
      const previous = await this.#store.get(this.#ctx.callId);
      const session: CallSession = {
        version: 1,
        callId: this.#ctx.callId,
        backend: this.#ctx.leg.backend,
        state,
        phone: this.#ctx.leg.from,
        startedAt: this.#ctx.startedAt.toISOString(),
        backendData: previous?.backendData ?? {},
        dialog: this.#ctx.dialogSnapshot(),
        updatedAt: new Date().toISOString(),
      };
      await this.#store.put(session);
    } catch (err) {
      this.#logger.warn({ err }, 'session store write failed');
    }
  }

  /** Waits for queued writes, then removes the session. */
  async finish(): Promise<void> {
    await this.#chain;
    try {
      await this.#store.delete(this.#ctx.callId);
    } catch (err) {
      this.#logger.warn({ err }, 'session store delete failed');
    }
  }
}
