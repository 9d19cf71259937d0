import { once } from 'node:events';
import type { Redis } from 'ioredis';

/**
 * The client once it is connected, waiting at most `ms` for that. For clients without an offline queue (they fail a
 * command at once while not connected): a command issued right after start-up waits for the connection instead of
 * failing, and one issued while Redis is away still fails within the bound.
 */
export async function readyWithin(client: Redis, ms: number): Promise<Redis> {
  if (client.status === 'ready') return client;
  await once(client, 'ready', { signal: AbortSignal.timeout(ms) });
  return client;
}
