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
}

/**
 * Fans every instance's CallEvents in through one Redis stream, so the agent console of any instance shows every
 * instance's calls. `all` carries this instance's events (straight from its bus) and the others' (from the stream);
 * a starting instance first replays the last historyMs of the stream. A stream, not pub/sub, so a console opened on a
 * freshly started instance still sees calls that began before it. Publishing never waits on Redis: while Redis is
 * away the other instances miss this one's events (its own console does not), and nothing else is affected.
 */
export class CallEventRelay {
  readonly all = new CallEventBus();
  readonly instanceId = randomUUID();
  readonly #publisher: Redis;
  readonly #reader: Redis;
  readonly #stream: string;
  readonly #unsubscribe: () => void;
  #reading: Promise<void> | undefined;
  #closed = false;
  #dropped = 0;

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
  }

  /** Events this instance could not hand to Redis (the other consoles missed them). */
  get dropped(): number {
    return this.#dropped;
  }

  #publish(e: CallEvent): void {
    const maxLen = String(this.opts.maxLen ?? 10_000);
    readyWithin(this.#publisher, this.opts.commandTimeoutMs ?? 1000)
      .then((redis) =>
        redis.xadd(this.#stream, 'MAXLEN', '~', maxLen, '*', 'i', this.instanceId, 'e', JSON.stringify(e)),
      )
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
            this.#deliver(fields);
          }
        }
      } catch (err) {
        if (this.#closed) return;
        this.opts.logger.debug({ err: (err as Error).message }, 'call event relay: read failed, retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  #deliver(fields: string[]): void {
    const get = (name: string) => fields[fields.indexOf(name) + 1];
    if (get('i') === this.instanceId) return; // ours came straight from the local bus
    try {
      this.all.publish(JSON.parse(get('e') ?? '') as CallEvent);
    } catch {
      this.opts.logger.warn('call event relay: unreadable entry skipped');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#reader.disconnect(); // ends a blocked XREAD
    // bounded: a read the client re-queued while reconnecting may never settle
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#reading, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.#publisher.disconnect();
  }
}
