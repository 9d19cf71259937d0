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
  })
  .optional();
export type RedisConfig = z.infer<typeof redisConfig>;
