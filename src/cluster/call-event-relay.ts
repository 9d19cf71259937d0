import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { CallEventBus, type CallEvent } from '../core/call-events.js';
import { readyWithin } from '../core/redis-ready.js';
import type { Logger } from '../log/logger.js';

export interface CallEventRelayOptions {
  url: string;
  /** redis.keyPrefix; the stream is `${keyPrefix}call-events` */
  keyPrefix: string;
  logger: Logger;
  /** a starting instance replays this much of the other instances' history (the console keeps ended calls 15 min) */
  historyMs?: number;
  /** approximate stream length kept in Redis */
  maxLen?: number;
  /** per-command bound on the publishing connection */
  commandTimeoutMs?: number;
  /** how long one XREAD waits for new entries before it asks again */
  blockMs?: number;
  /** redis.heartbeatMs: this instance's "alive" entry period; an instance silent for 3 of them is taken for dead */
  heartbeatMs?: number;
}

/** Missed heartbeats after which an instance is taken for dead. */
const STALE_HEARTBEATS = 3;

/**
 * Fans every instance's CallEvents in through one Redis stream, so the agent console of any instance shows every
 * instance's calls. `all` carries this instance's events (straight from its bus) and the others' (from the stream);
 * a starting instance first replays the last historyMs of the stream. A stream, not pub/sub, so a console opened on a
 * freshly started instance still sees calls that began before it. Publishing never waits on Redis: while Redis is
 * away the other instances miss this one's events (its own console does not), and nothing else is affected.
 * Each instance also adds a heartbeat entry; one that falls silent (kill -9, cut off) has its unfinished calls
 * reported as `owner-lost` on `all`, so the consoles stop showing them as served until another instance takes over.
 */
export class CallEventRelay {
  readonly all = new CallEventBus();
  readonly instanceId = randomUUID();
  readonly #publisher: Redis;
  readonly #reader: Redis;
  readonly #stream: string;
  readonly #unsubscribe: () => void;
  readonly #heartbeat: NodeJS.Timeout;
  #reading: Promise<void> | undefined;
  #closed = false;
  #dropped = 0;
  /**
   * Liveness on Redis's clock (stream entry ids are its milliseconds), so clock skew between hosts cannot make a live
   * instance look dead: per other instance the id time of its last entry, and the newest id time read from anyone.
   */
  readonly #lastSeen = new Map<string, number>();
  #streamNow = 0;
  /** Per other instance, the calls whose latest event came from it and that have not ended. */
  readonly #serving = new Map<string, Set<string>>();

  constructor(
    local: CallEventBus,
    readonly opts: CallEventRelayOptions,
  ) {
    this.#stream = `${opts.keyPrefix}call-events`;
    this.#publisher = new Redis(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: opts.commandTimeoutMs ?? 1000,
      maxRetriesPerRequest: 1,
    });
    this.#reader = new Redis(opts.url, { maxRetriesPerRequest: null });
    for (const c of [this.#publisher, this.#reader])
      c.on('error', (err: Error) => opts.logger.debug({ err: err.message }, 'call event relay: redis error'));
    this.#unsubscribe = local.subscribe((e) => {
      this.all.publish(e);
      this.#publish(e);
    });
    // An entry of our own every heartbeat: the others' proof that we are alive, and it keeps everyone's XREAD (and so
    // their view of Redis's clock) moving while no call event flows.
    this.#heartbeat = setInterval(() => this.#add(['hb', '1']), opts.heartbeatMs ?? 2000).unref();
  }

  /** Events this instance could not hand to Redis (the other consoles missed them). */
  get dropped(): number {
    return this.#dropped;
  }

  #publish(e: CallEvent): void {
    this.#add(['e', JSON.stringify(e)]);
  }

  #add(fields: string[]): void {
    const maxLen = String(this.opts.maxLen ?? 10_000);
    readyWithin(this.#publisher, this.opts.commandTimeoutMs ?? 1000)
      .then((redis) => redis.xadd(this.#stream, 'MAXLEN', '~', maxLen, '*', 'i', this.instanceId, ...fields))
      .catch((err: unknown) => {
        if (this.#dropped++ % 100 === 0)
          this.opts.logger.warn({ err: (err as Error).message, dropped: this.#dropped }, 'call event relay: not sent');
      });
  }

  /** Starts reading the other instances' events (history first). */
  start(): void {
    const from = `${Date.now() - (this.opts.historyMs ?? 15 * 60_000)}-0`;
    this.#reading = this.#read(from);
  }

  async #read(from: string): Promise<void> {
    let last = from;
    while (!this.#closed) {
      try {
        // not queued on a client that is not connected: close() could then wait on it forever
        await readyWithin(this.#reader, 5000);
        const res = await this.#reader.xread(
          'COUNT',
          1000,
          'BLOCK',
          this.opts.blockMs ?? 5000,
          'STREAMS',
          this.#stream,
          last,
        );
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            this.#deliver(fields, Number(id.slice(0, id.indexOf('-'))));
          }
        }
        this.#markLost();
      } catch (err) {
        if (this.#closed) return;
        this.opts.logger.debug({ err: (err as Error).message }, 'call event relay: read failed, retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  #deliver(fields: string[], atMs: number): void {
    const get = (name: string) => (fields.includes(name) ? fields[fields.indexOf(name) + 1] : undefined);
    this.#streamNow = Math.max(this.#streamNow, atMs);
    const from = get('i');
    if (from === undefined || from === this.instanceId) return; // ours came straight from the local bus
    this.#lastSeen.set(from, atMs);
    const json = get('e');
    if (json === undefined) return; // a heartbeat
    let event: CallEvent;
    try {
      event = JSON.parse(json) as CallEvent;
    } catch {
      this.opts.logger.warn('call event relay: unreadable entry skipped');
      return;
    }
    // the call is served by whoever spoke of it last (a takeover moves it), until it ends
    for (const calls of this.#serving.values()) calls.delete(event.callId);
    if (event.type !== 'call-ended') {
      let calls = this.#serving.get(from);
      if (!calls) this.#serving.set(from, (calls = new Set()));
      calls.add(event.callId);
    }
    this.all.publish(event);
  }

  /** Instances silent for STALE_HEARTBEATS heartbeats: their unfinished calls are reported once as owner-lost. */
  #markLost(): void {
    const staleMs = STALE_HEARTBEATS * (this.opts.heartbeatMs ?? 2000);
    for (const [instanceId, seenAt] of this.#lastSeen) {
      if (this.#streamNow - seenAt <= staleMs) continue;
      this.#lastSeen.delete(instanceId);
      for (const callId of this.#serving.get(instanceId) ?? [])
        this.all.publish({ type: 'owner-lost', callId, instanceId });
      this.#serving.delete(instanceId);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#unsubscribe();
    this.#reader.disconnect(); // ends a blocked XREAD
    // bounded: a read the client re-queued while reconnecting may never settle
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#reading, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.#publisher.disconnect();
  }
}
