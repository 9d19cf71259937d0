import { z } from 'zod';
import { secret } from '../config/secret.js';

export const webConfig = z.strictObject({
  host: z
    .string()
    .default('127.0.0.1')
    .describe(
      'Interface the web server listens on (test-call page, /metrics, webhooks, agent console). Keep 127.0.0.1 unless something authenticates in front of it.',
    ),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535).default(3000).describe('Web server port; 0 picks a free port.'),
  /** Public base URL used in links (ticket screen pops, jambonz hooks). */
  publicUrl: z
    .string()
    .url()
    .optional()
    .describe('Public base URL used in links (agent console in screen pops, jambonz hooks).'),
  agentConsole: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Serve the agent console at /agent.'),
      /** Bearer token (or basic-auth password) agents use to open /agent. */
      token: secret()
        .optional()
        .describe(
          'Token agents use to open /agent (Bearer header, ?token=, or the basic-auth password). Without one the console answers loopback clients only.',
        ),
    })
    .prefault({}),
});
export type WebConfig = z.infer<typeof webConfig>;
