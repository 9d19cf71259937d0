import { Redis } from 'ioredis';
import type { Readiness } from './readiness.js';

export const REDIS_COMPONENT = 'redis';

/**
 * Redis carries the session store and the CRM outbox: while it is unreachable calls would lose their state and
 * tickets would wait, so the instance reports itself not ready (/readyz 503 with the reason) until it answers,
 * and again whenever the connection drops. A dedicated connection, so the watch never queues behind real work.
 */
export function watchRedis(url: string, readiness: Readiness): { close(): Promise<void> } {
  readiness.set(REDIS_COMPONENT, false, 'connecting');
  const client = new Redis(url, {
    lazyConnect: false,
    connectTimeout: 3000,
    maxRetriesPerRequest: null,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(250 * 2 ** attempt, 5000),
  });
  client.on('ready', () => readiness.set(REDIS_COMPONENT, true));
  // the URL may hold a password: the reason names only the failure
  client.on('error', (err: NodeJS.ErrnoException) =>
    readiness.set(REDIS_COMPONENT, false, `unreachable: ${err.code ?? err.message}`),
  );
  client.on('close', () => {
    if (readiness.snapshot().components[REDIS_COMPONENT]?.ready)
      readiness.set(REDIS_COMPONENT, false, 'connection lost');
  });
  return {
    async close() {
      readiness.delete(REDIS_COMPONENT);
      client.disconnect();
      await Promise.resolve();
    },
  };
}
