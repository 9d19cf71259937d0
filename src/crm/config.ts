import { z } from 'zod';
import { secret } from '../config/secret.js';

/** Optional sink name (used in job ids, metrics and the ticket CallEvent); defaults to the type, then type-N. */
const sinkName = z
  .string()
  .regex(/^[a-z0-9_-]+$/, 'sink names are lowercase letters, digits, - and _')
  .optional();
const priority = z.enum(['low', 'normal', 'high', 'urgent']);

const zendesk = z.strictObject({
  type: z.literal('zendesk'),
  name: sinkName,
  /** https://SUBDOMAIN.zendesk.com (tests point this at the emulator). */
  baseUrl: z.string().url(),
  email: z.string().min(3),
  apiToken: secret(),
  /**
   * Ticket custom fields: CallRecord field → Zendesk custom field id. Fields: callId, phone, intent, outcome,
   * backend, summary, durationMs, asrConfidence, nluConfidence, escalationTarget, and `slots.NAME`.
   */
  customFields: z.record(z.string(), z.number().int()).default({}),
  /** Ticket priority by intent name; others get defaultPriority. */
  priorityByIntent: z.record(z.string(), priority).default({}),
  defaultPriority: priority.default('normal'),
  /** Priority when the call was escalated because the caller sounded upset (escalation reason mentions anger). */
  upsetPriority: priority.default('high'),
  /** Create missing requesters (phone-only end users with external_id voicebot-phone-DIGITS). */
  createRequesters: z.boolean().default(true),
  timeoutMs: z.number().int().min(100).default(10_000),
});
const hubspot = z.strictObject({
  type: z.literal('hubspot'),
  name: sinkName,
  baseUrl: z.string().url().default('https://api.hubapi.com'),
  /** Private-app token or Service Key (Bearer). */
  accessToken: secret(),
  createContacts: z.boolean().default(true),
  /** HTTPS base under which recordings are published; hs_call_recording_url = base + file name. */
  recordingBaseUrl: z.string().url().optional(),
  timeoutMs: z.number().int().min(100).default(10_000),
});
const webhook = z.strictObject({
  type: z.literal('webhook'),
  name: sinkName,
  url: z.string().url(),
  secret: secret(),
  timeoutMs: z.number().int().min(100).default(10_000),
});
const file = z.strictObject({
  type: z.literal('file'),
  name: sinkName,
  path: z.string().default('data/tickets.jsonl'),
});

export const sinkConfig = z.discriminatedUnion('type', [zendesk, hubspot, webhook, file]);
export type SinkConfig = z.infer<typeof sinkConfig>;
export type ZendeskSinkConfig = z.infer<typeof zendesk>;
export type HubspotSinkConfig = z.infer<typeof hubspot>;
export type WebhookSinkConfig = z.infer<typeof webhook>;
export type FileSinkConfig = z.infer<typeof file>;

export const crmConfig = z.strictObject({
  sinks: z.array(sinkConfig).default([{ type: 'file', path: 'data/tickets.jsonl' }]),
  outbox: z
    .strictObject({
      /** Local append-only queue (used when `redis` is not configured). */
      dir: z.string().default('data/outbox'),
      maxAttempts: z.number().int().min(1).default(12),
      baseDelayMs: z.number().int().min(10).default(1000),
      maxDelayMs: z.number().int().min(100).default(300_000),
      /** Deliveries in flight at once (all sinks together). */
      concurrency: z.number().int().min(1).max(256).default(8),
      /** Per-attempt bound on one delivery (all its HTTP requests). */
      attemptTimeoutMs: z.number().int().min(100).default(60_000),
      /** BullMQ queue name (when `redis` is configured). */
      queueName: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .default('voicebot-crm'),
    })
    .prefault({}),
  /** Secret for POST /api/webhooks/zendesk (Zendesk's webhook signing secret). Absent: the route is not mounted. */
  zendeskWebhookSecret: secret().optional(),
  /** Accept Zendesk webhook timestamps at most this far from now (replay window), seconds. */
  zendeskWebhookToleranceSec: z.number().int().min(10).default(300),
  /** Callbacks one ticket can request in 24 hours (a failed attempt counts). */
  zendeskCallbacksPerTicketPerDay: z.number().int().min(1).default(3),
  /** JSON screen-pop webhook for third-party agent desktops. */
  screenPopWebhookUrl: z.string().url().optional(),
  /** Signs screen-pop webhooks (X-Voicebot-Signature). Required with screenPopWebhookUrl. */
  screenPopWebhookSecret: secret().optional(),
});
export type CrmConfig = z.infer<typeof crmConfig>;
