import { systemClock, type Clock } from '../../core/clock.js';
import { Waiters } from '../../core/waiters.js';
import type { AriEvent } from './ari-types.js';
import { eventRouteKey } from './ari-types.js';
import { VoicebotError } from '../../core/errors.js';

type Handler = (ev: AriEvent) => void;

export class StasisTimeoutError extends VoicebotError {
  constructor(
    readonly channelId: string,
    timeoutMs: number,
  ) {
    super(`channel ${channelId} did not enter Stasis within ${timeoutMs} ms`, { kind: 'timeout' });
  }
}

/**
 * Routes ARI events to the call that owns the channel, by channel id. Channels the bot creates itself
 * (externalMedia, agent and outbound legs) are registered *before* the request that creates them, so their
 * StasisStart is never mistaken for a new caller, whatever order events arrive in.
 */
export class ChannelRouter {
  readonly #handlers = new Map<string, Handler>();
  readonly #own = new Set<string>();
  readonly #stasisWaiters = new Map<string, Waiters>();
  readonly #started = new Set<string>();
  readonly #clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  /** Mark a channel id as ours (before creating it) and route its events to `handler`. */
  claim(channelId: string, handler: Handler): void {
    this.#own.add(channelId);
    this.#handlers.set(channelId, handler);
  }

  /** Route a caller channel's events to its call. */
  route(channelId: string, handler: Handler): void {
    this.#handlers.set(channelId, handler);
  }

  release(channelId: string): void {
    this.#own.delete(channelId);
    this.#handlers.delete(channelId);
    this.#started.delete(channelId);
    this.#stasisWaiters.delete(channelId);
  }

  isOwn(channelId: string): boolean {
    return this.#own.has(channelId);
  }

  isKnown(channelId: string): boolean {
    return this.#handlers.has(channelId);
  }

  get size(): number {
    return this.#handlers.size;
  }

  /** Mark a channel as in Stasis (StasisStart seen or found in a resync) and wake its waiters. */
  markStarted(channelId: string): void {
    this.#started.add(channelId);
    const waiters = this.#stasisWaiters.get(channelId);
    this.#stasisWaiters.delete(channelId);
    waiters?.resolveAll();
  }

  /** Resolves when `channelId` has entered Stasis (also if it already has). */
  async waitForStasis(channelId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#started.has(channelId)) return;
    let waiters = this.#stasisWaiters.get(channelId);
    if (!waiters) this.#stasisWaiters.set(channelId, (waiters = new Waiters()));
    await waiters.wait({
      signal,
      timeoutMs,
      clock: this.#clock,
      timeoutError: () => new StasisTimeoutError(channelId, timeoutMs),
    });
  }

  /** Deliver an event to its channel's handler. Returns false when no call owns the channel. */
  dispatch(ev: AriEvent): boolean {
    const id = eventRouteKey(ev);
    if (!id) return false;
    if (ev.type === 'StasisStart') this.markStarted(id);
    const handler = this.#handlers.get(id);
    if (!handler) return false;
    handler(ev);
    return true;
  }
}
