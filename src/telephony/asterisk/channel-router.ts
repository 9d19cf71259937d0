import { systemClock, type Clock } from '../../core/clock.js';
import { Waiters } from '../../core/waiters.js';
import type { AriEvent } from './ari-types.js';
import { eventRouteKey } from './ari-types.js';
import { VoicebotError } from '../../core/errors.js';

type Handler = (ev: AriEvent) => void;

/** Events that say a channel is going or gone. */
const DEPARTURES = new Set<AriEvent['type']>(['ChannelHangupRequest', 'StasisEnd', 'ChannelDestroyed']);
/** How many departures nobody was routed for are remembered (a takeover asks about its caller within seconds). */
const MAX_DEPARTED = 4096;

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
  /** channels that left while no call routed their events, oldest first (bounded) */
  readonly #departed = new Set<string>();
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

  /**
   * Whether the channel hung up or left Stasis while no call routed its events. A call taken over from another
   * process reads its caller from Asterisk and only then routes its events: a caller who hangs up in between is
   * told by an event nobody received, so the taker asks here after routing (and hears every later event).
   */
  departed(channelId: string): boolean {
    return this.#departed.has(channelId);
  }

  /** Deliver an event to its channel's handler. Returns false when no call owns the channel. */
  dispatch(ev: AriEvent): boolean {
    const id = eventRouteKey(ev);
    if (!id) return false;
    if (ev.type === 'StasisStart') this.markStarted(id);
    const handler = this.#handlers.get(id);
    if (!handler) {
      if (DEPARTURES.has(ev.type)) this.#noteDeparted(id);
      return false;
    }
    handler(ev);
    return true;
  }

  #noteDeparted(id: string): void {
    this.#departed.delete(id);
    this.#departed.add(id);
    if (this.#departed.size > MAX_DEPARTED) this.#departed.delete(this.#departed.values().next().value!);
  }
}
