import { z } from 'zod';
import { secret } from '../config/secret.js';

const zendesk = z.strictObject({
  type: z.literal('zendesk'),
  /** https://SUBDOMAIN.zendesk.com (tests point this at the emulator). */
  baseUrl: z.string().url(),
  email: z.string().min(3),
  apiToken: secret(),
  customFields: z.record(z.string(), z.number().int()).default({}),
  timeoutMs: z.number().int().min(100).default(10_000),
});
const hubspot = z.strictObject({
  type: z.literal('hubspot'),
  baseUrl: z.string().url().default('https://api.hubapi.com'),
  accessToken: secret(),
  createContacts: z.boolean().default(true),
  timeoutMs: z.number().int().min(100).default(10_000),
});
const webhook = z.strictObject({
  type: z.literal('webhook'),
  url: z.string().url(),
  secret: secret(),
  timeoutMs: z.number().int().min(100).default(10_000),
});
const file = z.strictObject({
  type: z.literal('file'),
  path: z.string().default('data/tickets.jsonl'),
});

export const sinkConfig = z.discriminatedUnion('type', [zendesk, hubspot, webhook, file]);

export const crmConfig = z.strictObject({
  sinks: z.array(sinkConfig).default([{ type: 'file', path: 'data/tickets.jsonl' }]),
  outbox: z
    .strictObject({
      dir: z.string().default('data/outbox'),
      maxAttempts: z.number().int().min(1).default(12),
      baseDelayMs: z.number().int().min(10).default(1000),
      maxDelayMs: z.number().int().min(100).default(300_000),
    })
    .prefault({}),
  /** Secret for POST /api/webhooks/zendesk (Zendesk's webhook signing secret). */
  zendeskWebhookSecret: secret().optional(),
  /** JSON screen-pop webhook for third-party agent desktops. */
  screenPopWebhookUrl: z.string().url().optional(),
});
export type CrmConfig = z.infer<typeof crmConfig>;
