import { z } from 'zod';

/** Redis is shared by the session store and the CRM outbox. Absent: in-memory session, file outbox. */
export const redisConfig = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'),
    keyPrefix: z.string().default('voicebot:'),
  })
  .optional();
export type RedisConfig = z.infer<typeof redisConfig>;
