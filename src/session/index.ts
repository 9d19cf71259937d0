import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { MemorySessionStore } from './memory-store.js';
import { RedisSessionStore } from './redis-store.js';
import type { SessionStore } from './store.js';

export type { CallSession, SessionStore } from './store.js';
export { MemorySessionStore } from './memory-store.js';
export { RedisSessionStore } from './redis-store.js';

/** `session.store: memory` (default, one instance) or `redis` (needs `redis.url`). */
export function createSessionStore(config: Pick<Config, 'session' | 'redis'>, logger: Logger): SessionStore {
  if (config.session.store === 'redis') {
    if (!config.redis) throw new Error('session.store is "redis" but redis.url is not set');
    return new RedisSessionStore({
      url: config.redis.url,
      keyPrefix: config.redis.keyPrefix,
      ttlSeconds: config.session.ttlSeconds,
      logger: logger.child({ component: 'sessions' }),
    });
  }
  return new MemorySessionStore(config.session.ttlSeconds);
}
