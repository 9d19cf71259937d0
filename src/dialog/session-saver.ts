import type { CallState } from '../core/call-events.js';
import type { Logger } from '../log/logger.js';
import type { CallSession, SessionStore } from '../session/store.js';
import type { CallContext } from './call-context.js';

export interface SessionSaverOptions {
  /** this process's instance id, written as the session's owner */
  owner: string;
  /** another process wrote the session since our last write: it serves the call now, we must let go */
  onLost(): void;
}

/**
 * The call's one owner in the session store. Every state change is written (one write at a time, newest state
 * wins) with compare-and-set on the session's revision: a write that finds a newer revision means another process
 * claimed the call, and `onLost` fires so this process stops serving it. Store errors are logged, never thrown: a
 * store outage costs the takeover, not the call.
 */
export class SessionSaver {
  #chain: Promise<void> = Promise.resolve();
  #pending: CallState | null = null;
  #rev = 0;
  #lost = false;
  #seen = false;
  #backendData: Record<string, unknown> = {};
  readonly #store: SessionStore;
  readonly #ctx: CallContext;
  readonly #logger: Logger;
  readonly #opts: SessionSaverOptions;

  constructor(store: SessionStore, ctx: CallContext, logger: Logger, opts: SessionSaverOptions) {
    this.#store = store;
    this.#ctx = ctx;
    this.#logger = logger;
    this.#opts = opts;
  }

  /** Someone else holds the call now. */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Takes over a stored call: writes it as ours over revision `stored.rev`. False when another process got there
   * first (or the store is unreachable: nobody can tell who holds the call then).
   */
  async claim(stored: CallSession, state: CallState): Promise<boolean> {
    this.#seen = true;
    this.#backendData = stored.backendData;
    this.#rev = stored.rev ?? 0;
    try {
      let rev = await this.#store.compareAndSet(this.#session(state, this.#opts.owner), this.#rev);
      if (rev === null) {
        // A write queued before the claim (the caller hung up while the store was asked) may have taken over an
        // entry with no owner already: then it names us, and the claim writes the restored state over it.
        const current = await this.#store.get(this.#ctx.callId);
        if (current?.owner !== this.#opts.owner) return false;
        rev = await this.#store.compareAndSet(this.#session(state, this.#opts.owner), current.rev ?? 0);
        if (rev === null) return false;
      }
      this.#rev = rev;
      // such a write that found the old owner instead gave the call up: it is ours now
      this.#lost = false;
      return true;
    } catch (err) {
      this.#logger.warn({ err }, 'session store unreachable: cannot claim the call');
      return false;
    }
  }

  /** A new call whose id already has an entry (a backend's annotation, unreadable state): write over it, keep its backendData. */
  inherit(stored: CallSession): void {
    this.#seen = true;
    this.#backendData = stored.backendData;
    this.#rev = stored.rev ?? 0;
  }

  save(state: CallState): void {
    const first = this.#pending === null;
    this.#pending = state;
    if (first) this.#chain = this.#chain.then(() => this.#write(this.#opts.owner));
  }

  async #write(owner: string): Promise<void> {
    const state = this.#pending;
    this.#pending = null;
    if (!state || this.#lost) return;
    try {
      if (!this.#seen) {
        // the first write looks once at what is there: a backend may have annotated the entry already
        this.#seen = true;
        const current = await this.#store.get(this.#ctx.callId);
        if (current && !current.owner) this.inherit(current);
      }
      const expected = this.#rev;
      const rev = await this.#store.compareAndSet(this.#session(state, owner), expected);
      if (rev !== null) {
        this.#rev = rev;
        return;
      }
      // Not a takeover when the entry names no owner: a backend annotated it (backendData) with a plain put. Nor
      // when it names us: our previous write landed and its answer was lost, or our claim moved the revision while
      // this write was on its way (a caller who hung up before the claim). Either way, write again over it.
      const current = await this.#store.get(this.#ctx.callId);
      if (current && (!current.owner || current.owner === this.#opts.owner) && (current.rev ?? 0) !== expected) {
        this.#rev = current.rev ?? 0;
        this.#backendData = current.backendData;
        this.#pending = this.#pending ?? state;
        return this.#write(owner);
      }
      this.#lost = true;
      this.#logger.warn({ owner: current?.owner ?? null }, 'another process took the call over; letting go');
      this.#opts.onLost();
    } catch (err) {
      this.#logger.warn({ err }, 'session store write failed');
    }
  }

  #session(state: CallState, owner: string): CallSession {
    const ctx = this.#ctx;
    return {
      version: 1,
      callId: ctx.callId,
      backend: ctx.leg.backend,
      state,
      phone: ctx.leg.from,
      startedAt: ctx.startedAt.toISOString(),
      backendData: { ...this.#backendData, ...ctx.leg.sessionData },
      dialog: { ...ctx.dialogSnapshot() },
      updatedAt: new Date().toISOString(),
      owner,
    };
  }

  /** Detach: the last state is written with no owner, ready for whoever resumes the call. */
  async release(state: CallState): Promise<void> {
    await this.#chain;
    if (this.#lost) return;
    this.#pending = state;
    await this.#write('');
  }

  /** Waits for queued writes, then removes the session (unless another process holds it now). */
  async finish(): Promise<void> {
    await this.#chain;
    if (this.#lost) return;
    try {
      await this.#store.delete(this.#ctx.callId);
    } catch (err) {
      this.#logger.warn({ err }, 'session store delete failed');
    }
  }
}
