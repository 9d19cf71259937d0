import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { decodeSession, encodeSession } from './codec.js';
import type { CallSession, SessionStore } from './store.js';

export interface RedisSessionStoreOptions {
  url: string;
  /** e.g. "voicebot:"; sessions live at `${keyPrefix}session:${callId}` */
  keyPrefix: string;
  ttlSeconds: number;
  logger: Logger;
  /** per-command bound, ms */
  commandTimeoutMs?: number;
  redisOptions?: RedisOptions;
}

/**
 * Compare-and-set in one step on the server: the stored JSON's `rev` (absent entry or field: 0) must equal ARGV[1];
 * then ARGV[2] (already carrying rev + 1) is stored with the TTL. Atomic, so two processes can never both win.
 */
const CAS_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
local rev = 0
if raw then
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and type(value.rev) == 'number' then rev = value.rev end
end
if rev ~= tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return rev + 1
`;

/** Sessions shared between bot instances: one JSON string per call, with a TTL refreshed on every put. */
export class RedisSessionStore implements SessionStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(private readonly opts: RedisSessionStoreOptions) {
    this.#prefix = `${opts.keyPrefix}session:`;
    this.#redis = new Redis(opts.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      enableOfflineQueue: true,
      ...opts.redisOptions,
    });
    this.#redis.on('error', (err: Error) => opts.logger.warn({ err: err.message }, 'redis session store error'));
  }

  key(callId: string): string {
    return `${this.#prefix}${callId}`;
  }

  async get(callId: string): Promise<CallSession | undefined> {
    const raw = await this.#redis.get(this.key(callId));
    if (raw === null) return undefined;
    const decoded = decodeSession(raw);
    if (!decoded.ok) {
      this.opts.logger.warn({ callId, reason: decoded.reason }, 'ignoring unreadable session entry');
      return undefined;
    }
    return decoded.session;
  }

  async put(session: CallSession): Promise<void> {
    await this.#redis.set(this.key(session.callId), encodeSession(session), 'EX', this.opts.ttlSeconds);
  }

  async compareAndSet(session: CallSession, expectedRev: number): Promise<number | null> {
    const next = { ...session, rev: expectedRev + 1 };
    const result = await this.#redis.eval(
      CAS_SCRIPT,
      1,
      this.key(session.callId),
      String(expectedRev),
      encodeSession(next),
      String(this.opts.ttlSeconds),
    );
    return Number(result) < 0 ? null : Number(result);
  }

  async delete(callId: string): Promise<void> {
    await this.#redis.del(this.key(callId));
  }

  async list(): Promise<CallSession[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(cursor, 'MATCH', `${this.#prefix}*`, 'COUNT', 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.#redis.mget(...keys);
    const sessions: CallSession[] = [];
    values.forEach((raw, i) => {
      if (raw === null) return;
      const decoded = decodeSession(raw);
      if (decoded.ok) sessions.push(decoded.session);
      else this.opts.logger.warn({ key: keys[i], reason: decoded.reason }, 'ignoring unreadable session entry');
    });
    return sessions;
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
