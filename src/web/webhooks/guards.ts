import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { readyWithin } from '../../core/redis-ready.js';

/**
 * What keeps one webhook from dialling twice: keys seen recently (deliveries, callbacks in cooldown) and a rolling
 * daily budget per ticket. In memory for one instance; in Redis when several instances sit behind one webhook URL,
 * so a Zendesk retry that lands on another instance is still a duplicate and the daily limit is one limit.
 */
export interface CallbackGuards {
  /** true if `key` was not seen within its ttl (it is remembered for `ttlMs` from now on) */
  firstSeen(key: string, ttlMs: number): Promise<boolean>;
  /** true (and counted) while `key` has had fewer than `perDay` takes in the last 24 h */
  takeDaily(key: string, perDay: number): Promise<boolean>;
  close(): Promise<void>;
}

const DAY_MS = 24 * 3600_000;

/** One instance: bounded maps (the oldest entries go first). */
export class MemoryCallbackGuards implements CallbackGuards {
  readonly #keys = new Map<string, number>();
  readonly #used = new Map<string, number[]>();
  constructor(
    readonly now: () => number = Date.now,
    readonly maxKeys = 10_000,
  ) {}

  firstSeen(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    for (const [k, exp] of this.#keys) {
      if (exp > now && this.#keys.size < this.maxKeys) break; // insertion order ≈ expiry order
      this.#keys.delete(k);
    }
    const exp = this.#keys.get(key);
    if (exp !== undefined && exp > now) return Promise.resolve(false);
    this.#keys.set(key, now + ttlMs);
    return Promise.resolve(true);
  }

  takeDaily(key: string, perDay: number): Promise<boolean> {
    const now = this.now();
    const recent = (this.#used.get(key) ?? []).filter((t) => now - t < DAY_MS);
    if (recent.length >= perDay) {
      this.#used.set(key, recent);
      return Promise.resolve(false);
    }
    recent.push(now);
    this.#used.delete(key); // re-insert: the map stays ordered by last use, the oldest go first
    this.#used.set(key, recent);
    for (const k of this.#used.keys()) {
      if (this.#used.size <= this.maxKeys) break;
      this.#used.delete(k);
    }
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Drop takes older than a day, then take one if fewer than ARGV[3] remain. Atomic, so two instances cannot both win. */
const TAKE_DAILY = `redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - ${DAY_MS})
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
redis.call('pexpire', KEYS[1], ${DAY_MS})
return 1`;

/**
 * Shared by every instance on one Redis. A Redis that does not answer within commandTimeoutMs makes the check throw:
 * the webhook then answers 503 (Zendesk retries) rather than risk dialling a customer twice.
 */
export class RedisCallbackGuards implements CallbackGuards {
  readonly #redis: Redis;
  constructor(
    url: string,
    readonly keyPrefix: string,
    readonly now: () => number = Date.now,
    readonly commandTimeoutMs = 1000,
  ) {
    this.#redis = new Redis(url, {
      enableOfflineQueue: false,
      commandTimeout: commandTimeoutMs,
      maxRetriesPerRequest: 1,
    });
    this.#redis.on('error', () => undefined); // readiness reports Redis; each check fails on its own
  }

  async firstSeen(key: string, ttlMs: number): Promise<boolean> {
    const redis = await readyWithin(this.#redis, this.commandTimeoutMs);
    const set = await redis.set(`${this.keyPrefix}webhook:seen:${key}`, '1', 'PX', ttlMs, 'NX');
    return set === 'OK';
  }

  async takeDaily(key: string, perDay: number): Promise<boolean> {
    const member = `${this.now()}-${randomUUID()}`;
    const key_ = `${this.keyPrefix}webhook:daily:${key}`;
    const redis = await readyWithin(this.#redis, this.commandTimeoutMs);
    return (await redis.eval(TAKE_DAILY, 1, key_, String(this.now()), member, String(perDay))) === 1;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
    await Promise.resolve();
  }
}
