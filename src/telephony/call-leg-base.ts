import { EventEmitter } from 'node:events';
import { Waiters } from '../core/waiters.js';
import type { CallLegEvents, TransferRequest, TransferResult } from './port.js';

/**
 * What every call leg does the same way, whatever carries the audio: typed events, ending once (whoever ends it),
 * one transfer at a time, and waking `waitForPlayout` callers. A backend's leg extends this and implements
 * `CallLeg`'s media methods, `hangup` and `placeTransfer`; it never re-implements the bookkeeping.
 */
export abstract class CallLegBase extends EventEmitter<CallLegEvents> {
  /** aborted when the call ends: every wait inside the call listens to it */
  readonly #ended = new AbortController();
  #endReason: string | null = null;
  #released: Promise<void> | null = null;
  #hangupEmitted = false;
  #transferring = false;
  readonly #playout = new Waiters('waitForPlayout aborted');

  get ended(): boolean {
    return this.#endReason !== null;
  }

  /** why the call ended (null while it is up) */
  get endReason(): string | null {
    return this.#endReason;
  }

  /** aborted when the call ends */
  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  /** a transfer is being dialled right now */
  get transferring(): boolean {
    return this.#transferring;
  }

  /** outstanding waitForPlayout calls (a leak check) */
  get playoutWaiters(): number {
    return this.#playout.size;
  }

  /**
   * Hand the caller to a person. The base refuses a transfer on an ended call or while another one is dialling
   * (the call stays with the bot); the backend's `placeTransfer` does the dialling.
   */
  async transfer(request: TransferRequest, signal?: AbortSignal): Promise<TransferResult> {
    if (this.ended) return { outcome: 'failed', detail: 'call already ended' };
    if (this.#transferring) return { outcome: 'failed', detail: 'transfer already in progress' };
    this.#transferring = true;
    try {
      return await this.placeTransfer(request, signal);
    } finally {
      this.#transferring = false;
    }
  }

  protected abstract placeTransfer(request: TransferRequest, signal?: AbortSignal): Promise<TransferResult>;

  /**
   * End the leg once, whoever ends it (caller, bot, peer, error): records the reason, aborts `signal`, then runs
   * `release` (its synchronous part runs before this returns). Every later call gets the same promise.
   */
  protected endOnce(reason: string, release: () => void | Promise<void>): Promise<void> {
    if (!this.#released) {
      this.#endReason = reason;
      this.#ended.abort(new Error(`call ended: ${reason}`));
      this.#released = (async () => {
        await release();
      })();
    }
    return this.#released;
  }

  /** Tell the call core the call is over: `hangup` fires once per leg, however many paths report it. */
  protected emitHangup(reason: string): void {
    if (this.#hangupEmitted) return;
    this.#hangupEmitted = true;
    this.emit('hangup', reason);
  }

  /** The call goes on without this process (hand-over): `detach`, then `hangup`, once per leg like a hangup. */
  protected emitDetach(reason: string): void {
    if (this.#hangupEmitted) return;
    this.emit('detach', reason);
    this.emitHangup(reason);
  }

  /** For legs that know locally when their queue drains: resolves at once when nothing is queued or it ended. */
  protected waitUntilDrained(queuedSamples: number, signal?: AbortSignal): Promise<void> {
    if (this.ended || queuedSamples === 0) return Promise.resolve();
    return this.#playout.wait(signal);
  }

  /** Everything queued has been played (or dropped): wake the waitForPlayout callers. */
  protected drained(): void {
    this.#playout.resolveAll();
  }
}
