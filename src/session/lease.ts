import { Redis, type RedisOptions } from 'ioredis';
import { backgroundTimer, systemClock, type Clock } from '../core/clock.js';

/**
 * Per-call ownership leases: the process serving a call holds its lease and renews it; when the process dies the
 * lease runs out and another instance may claim the call. Claiming is atomic (one winner), and only the holder can
 * renew or release, so a process that stalled past its lease can never take a call back from its new owner (it may
 * take back only a lease nobody claimed meanwhile: then the call is still its own).
 */
export interface LeaseStore {
  /**
   * Take the lease if nobody holds it (or it ran out), or extend it if `owner` holds it already (the backend claimed
   * the call before the call core starts serving it). True: `owner` holds it for `ttlMs`.
   */
  acquire(callId: string, owner: string, ttlMs: number): Promise<boolean>;
  /**
   * Extend the lease if `owner` holds it, or take it again if it ran out and nobody took it meanwhile (a process whose
   * event loop stalled past its lease still serves the call: nobody else claimed it). False: someone else holds it now.
   */
  renew(callId: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Give the lease up, only if `owner` holds it. */
  release(callId: string, owner: string): Promise<boolean>;
  /** who holds the lease now (null: nobody) */
  holder(callId: string): Promise<string | null>;
  /** how long until the lease runs out unless renewed, ms (null: nobody holds it) */
  expiresInMs(callId: string): Promise<number | null>;
  close(): Promise<void>;
}

/** Take the lease when it is free, or extend it when it is already ours; never take another holder's. */
const ACQUIRE = `local v = redis.call('GET', KEYS[1])
if not v then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Renew if the value is still ours, or take the key again if it ran out and nobody took it: one step on the server. */
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end
return 0`;
/** Delete only if the value is still ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Leases shared by every instance on one Redis: `{keyPrefix}lease:{callId}` = owner, with a PX expiry. */
export class RedisLeaseStore implements LeaseStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(opts: { url: string; keyPrefix: string; commandTimeoutMs?: number; redisOptions?: RedisOptions }) {
    this.#prefix = `${opts.keyPrefix}lease:`;
    this.#redis = new Redis(opts.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs ?? 1000,
      ...opts.redisOptions,
    });
    // errors surface as rejected commands; a renewal that fails is the caller's to judge
    this.#redis.on('error', () => undefined);
  }

  key(callId: string): string {
    return `${this.#prefix}${callId}`;
  }

  async acquire(callId: string, owner: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#redis.eval(ACQUIRE, 1, this.key(callId), owner, String(Math.ceil(ttlMs)))) === 1;
  }

  async renew(callId: string, owner: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#redis.eval(RENEW, 1, this.key(callId), owner, String(Math.ceil(ttlMs)))) === 1;
  }

  async release(callId: string, owner: string): Promise<boolean> {
    return Number(await this.#redis.eval(RELEASE, 1, this.key(callId), owner)) === 1;
  }

  holder(callId: string): Promise<string | null> {
    return this.#redis.get(this.key(callId));
  }

  async expiresInMs(callId: string): Promise<number | null> {
    const ms = await this.#redis.pttl(this.key(callId));
    return ms < 0 ? null : ms;
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}

/** One instance: leases in a Map, expiry on the injected clock. Every operation is synchronous (atomic). */
export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, { owner: string; until: number }>();
  readonly #clock: Pick<Clock, 'now'>;

  constructor(clock: Pick<Clock, 'now'> = systemClock) {
    this.#clock = clock;
  }

  #live(callId: string): { owner: string; until: number } | undefined {
    const lease = this.#leases.get(callId);
    if (lease && lease.until <= this.#clock.now()) {
      this.#leases.delete(callId);
      return undefined;
    }
    return lease;
  }

  acquire(callId: string, owner: string, ttlMs: number): Promise<boolean> {
    const held = this.#live(callId);
    if (held && held.owner !== owner) return Promise.resolve(false);
    this.#leases.set(callId, { owner, until: this.#clock.now() + ttlMs });
    return Promise.resolve(true);
  }

  renew(callId: string, owner: string, ttlMs: number): Promise<boolean> {
    const lease = this.#live(callId);
    if (lease && lease.owner !== owner) return Promise.resolve(false);
    this.#leases.set(callId, { owner, until: this.#clock.now() + ttlMs });
    return Promise.resolve(true);
  }

  release(callId: string, owner: string): Promise<boolean> {
    if (this.#live(callId)?.owner !== owner) return Promise.resolve(false);
    this.#leases.delete(callId);
    return Promise.resolve(true);
  }

  holder(callId: string): Promise<string | null> {
    return Promise.resolve(this.#live(callId)?.owner ?? null);
  }

  expiresInMs(callId: string): Promise<number | null> {
    const lease = this.#live(callId);
    return Promise.resolve(lease ? lease.until - this.#clock.now() : null);
  }

  close(): Promise<void> {
    this.#leases.clear();
    return Promise.resolve();
  }
}

export interface HeldLeaseOptions {
  store: LeaseStore;
  callId: string;
  owner: string;
  ttlMs: number;
  /** renew this often (default a third of the lease: two renewals may fail before it runs out) */
  renewEveryMs?: number;
  clock?: Clock;
  /** the lease was lost (renewal refused or not answered before it ran out): stop serving the call */
  onLost(why: string): void;
}

/**
 * A lease this process holds on one call, renewed on the clock until `release()`. A renewal that is refused, or no
 * successful renewal before the lease would have run out, reports the loss once and stops.
 */
export class HeldLease {
  readonly #o: HeldLeaseOptions & { clock: Clock; renewEveryMs: number };
  #timer: unknown;
  #validUntil: number;
  #done = false;

  private constructor(o: HeldLeaseOptions) {
    const clock = o.clock ?? systemClock;
    this.#o = { ...o, clock, renewEveryMs: o.renewEveryMs ?? Math.max(1, Math.floor(o.ttlMs / 3)) };
    this.#validUntil = clock.now() + o.ttlMs;
  }

  /** Claims the lease; null when another process holds it. */
  static async acquire(o: HeldLeaseOptions): Promise<HeldLease | null> {
    if (!(await o.store.acquire(o.callId, o.owner, o.ttlMs))) return null;
    const lease = new HeldLease(o);
    lease.#schedule();
    return lease;
  }

  get held(): boolean {
    return !this.#done;
  }

  #schedule(): void {
    this.#timer = backgroundTimer(this.#o.clock, () => void this.#renew(), this.#o.renewEveryMs);
  }

  /** One renewal: true (ours for another `ttlMs`), false (another process holds it), or no answer. */
  async #ask(): Promise<boolean | 'error'> {
    const { store, callId, owner, ttlMs } = this.#o;
    return store.renew(callId, owner, ttlMs).catch(() => 'error' as const);
  }

  async #renew(): Promise<void> {
    if (this.#done) return;
    const { store, callId, ttlMs, clock } = this.#o;
    let ok = await this.#ask();
    // No answer is not yet "unreachable": an event loop that stalled past the client's command timeout reads the
    // store's answer as a timeout (ioredis: 1 s, as long as a short lease). Before giving the call up, ask once
    // more: the store tells the truth (ours, taken back if nobody claimed it, or another process's).
    if (ok === 'error' && !this.#done && clock.now() + this.#o.renewEveryMs >= this.#validUntil) ok = await this.#ask();
    if (this.#done) return;
    if (ok === true) {
      this.#validUntil = clock.now() + ttlMs;
      return this.#schedule();
    }
    if (ok === 'error' && clock.now() + this.#o.renewEveryMs < this.#validUntil) return this.#schedule();
    if (ok === 'error') return this.#lose('lease ran out: store unreachable');
    const holder = await store.holder(callId).catch(() => null);
    if (this.#done) return;
    this.#lose(`renewal refused: another process (${holder ?? 'unknown'}) claimed the call`);
  }

  #lose(why: string): void {
    this.#done = true;
    this.#o.onLost(why);
  }

  /** Stops renewing and gives the lease up (the call ended or was handed over). */
  async release(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#o.clock.clearTimeout(this.#timer);
    await this.#o.store.release(this.#o.callId, this.#o.owner).catch(() => false);
  }
}
