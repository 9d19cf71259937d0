import { z } from 'zod';

/** Redis is shared by the session store and the CRM outbox. Absent: in-memory session, file outbox. */
export const redisConfig = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .describe(
        'Redis server (redis:// or rediss://). Enables the Redis session store option and the BullMQ CRM outbox.',
      ),
    keyPrefix: z.string().default('voicebot:').describe('Prefix of every Redis key the bot writes.'),
    heartbeatMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(2000)
      .describe(
        'How often each instance tells the others it is alive, ms. An instance silent for 3 heartbeats is taken for dead: the other agent consoles mark its live calls "bot lost" until another instance takes them over.',
      ),
  })
  .optional();
export type RedisConfig = z.infer<typeof redisConfig>;
