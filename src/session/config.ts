import { z } from 'zod';

export const sessionConfig = z.strictObject({
  store: z.enum(['memory', 'redis']).default('memory'),
  /** TTL of a call's session entry, seconds. */
  ttlSeconds: z.number().int().min(10).default(3600),
});
export type SessionConfig = z.infer<typeof sessionConfig>;
