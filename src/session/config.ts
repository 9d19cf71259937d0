import { z } from 'zod';

export const sessionConfig = z.strictObject({
  store: z
    .enum(['memory', 'redis'])
    .default('memory')
    .describe(
      'Where live call sessions are kept: memory (one instance) or redis (calls survive a restart; needs redis.url).',
    ),
  /** TTL of a call's session entry, seconds. */
  ttlSeconds: z
    .number()
    .int()
    .min(10)
    .default(3600)
    .describe("Lifetime of a call's session entry, refreshed on every write, seconds."),
  leaseMs: z
    .number()
    .int()
    .min(300)
    .default(3000)
    .describe(
      'Per-call ownership lease (session.store: redis): the serving process renews it every third of this; a call whose process stops renewing can be claimed by another instance after it runs out, ms.',
    ),
  drainTimeoutSec: z
    .number()
    .min(0)
    .default(30)
    .describe(
      'On SIGTERM: how long running calls may finish on their own before they are detached for another instance to take over (session.store: redis), seconds.',
    ),
});
export type SessionConfig = z.infer<typeof sessionConfig>;
