import { z } from 'zod';
import { secret } from '../config/secret.js';

export const webConfig = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535).default(3000),
  /** Public base URL used in links (ticket screen pops, jambonz hooks). */
  publicUrl: z.string().url().optional(),
  agentConsole: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Bearer token (or basic-auth password) agents use to open /agent. */
      token: secret().optional(),
    })
    .prefault({}),
});
export type WebConfig = z.infer<typeof webConfig>;
