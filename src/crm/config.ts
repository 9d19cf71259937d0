import { z } from 'zod';
import { secret } from '../config/secret.js';

/** Optional sink name (used in job ids, metrics and the ticket CallEvent); defaults to the type, then type-N. */
const sinkName = z
  .string()
  .regex(/^[a-z0-9_-]+$/, 'sink names are lowercase letters, digits, - and _')
  .optional()
  .describe(
    'Sink name (lowercase, digits, - and _), used in job ids, metrics and logs; default: the type, then type-2 and so on.',
  );
const priority = z.enum(['low', 'normal', 'high', 'urgent']);

const zendesk = z.strictObject({
  type: z.literal('zendesk'),
  name: sinkName,
  /** https://SUBDOMAIN.zendesk.com (tests point this at the emulator). */
  baseUrl: z.string().url().describe('https://SUBDOMAIN.zendesk.com'),
  email: z.string().min(3).describe('Email of the agent the API token belongs to.'),
  apiToken: secret().describe('Zendesk API token (Admin Center → Apps and integrations → Zendesk API).'),
  /**
   * Ticket custom fields: CallRecord field → Zendesk custom field id. Fields: callId, phone, intent, outcome,
   * backend, summary, durationMs, asrConfidence, nluConfidence, escalationTarget, and `slots.NAME`.
   */
  customFields: z
    .record(z.string(), z.number().int())
    .default({})
    .describe(
      'CallRecord field → Zendesk custom field id (callId, phone, intent, outcome, backend, summary, durationMs, durationSec, asrConfidence, nluConfidence, escalated, escalationTarget, slots.NAME). `voicebot zendesk setup` creates the usual ones and prints this map.',
    ),
  /** Ticket priority by intent name; others get defaultPriority. */
  priorityByIntent: z
    .record(z.string(), priority)
    .default({})
    .describe('Ticket priority by intent name; others get defaultPriority.'),
  defaultPriority: priority.default('normal').describe('Ticket priority when no other rule applies.'),
  /** Priority when the call was escalated because the caller sounded upset (escalation reason mentions anger). */
  upsetPriority: priority.default('high').describe('Priority when the caller was escalated for sounding upset.'),
  /** Create missing requesters (phone-only end users with external_id voicebot-phone-DIGITS). */
  createRequesters: z
    .boolean()
    .default(true)
    .describe('Create missing requesters (phone-only end users with external_id voicebot-phone-DIGITS).'),
  timeoutMs: z.number().int().min(100).default(10_000).describe('Bound on one HTTP request, ms.'),
});
const hubspot = z.strictObject({
  type: z.literal('hubspot'),
  name: sinkName,
  baseUrl: z.string().url().default('https://api.hubapi.com').describe('HubSpot API base.'),
  /** Private-app token or Service Key (Bearer). */
  accessToken: secret().describe('Private-app token or Service Key (Bearer).'),
  createContacts: z.boolean().default(true).describe("Create a contact when none matches the caller's phone."),
  /** HTTPS base under which recordings are published; hs_call_recording_url = base + file name. */
  recordingBaseUrl: z
    .string()
    .url()
    .optional()
    .describe('HTTPS base under which recordings are published; hs_call_recording_url = base + file name.'),
  timeoutMs: z.number().int().min(100).default(10_000).describe('Bound on one HTTP request, ms.'),
});
const webhook = z.strictObject({
  type: z.literal('webhook'),
  name: sinkName,
  url: z.string().url().describe('Where the CallRecord JSON is POSTed.'),
  secret: secret().describe('Signs each delivery (X-Voicebot-Signature, HMAC-SHA256).'),
  timeoutMs: z.number().int().min(100).default(10_000).describe('Bound on one HTTP request, ms.'),
});
const file = z.strictObject({
  type: z.literal('file'),
  name: sinkName,
  path: z.string().default('data/tickets.jsonl').describe("JSON Lines file; one fsync'd line per delivery."),
});

export const sinkConfig = z.discriminatedUnion('type', [zendesk, hubspot, webhook, file]);
export type SinkConfig = z.infer<typeof sinkConfig>;
export type ZendeskSinkConfig = z.infer<typeof zendesk>;
export type HubspotSinkConfig = z.infer<typeof hubspot>;
export type WebhookSinkConfig = z.infer<typeof webhook>;
export type FileSinkConfig = z.infer<typeof file>;

export const crmConfig = z.strictObject({
  sinks: z
    .array(sinkConfig)
    .default([{ type: 'file', path: 'data/tickets.jsonl' }])
    .describe('Where tickets go; every sink gets every record (see crm.sinks[type=…] keys).'),
  outbox: z
    .strictObject({
      /** Local append-only queue; with `redis`, where jobs wait on disk while Redis cannot take them. */
      dir: z
        .string()
        .default('data/outbox')
        .describe(
          'Local append-only outbox journal; with redis, the spill journal for jobs Redis did not take in time (one dir per instance).',
        ),
      maxAttempts: z.number().int().min(1).default(12).describe('Attempts before a job is dead-lettered.'),
      baseDelayMs: z
        .number()
        .int()
        .min(10)
        .default(1000)
        .describe('First retry delay (exponential backoff with jitter), ms.'),
      maxDelayMs: z.number().int().min(100).default(300_000).describe('Longest retry delay, ms.'),
      /** Deliveries in flight at once (all sinks together). */
      concurrency: z
        .number()
        .int()
        .min(1)
        .max(256)
        .default(8)
        .describe('Deliveries in flight at once (all sinks together).'),
      /** Per-attempt bound on one delivery (all its HTTP requests). */
      attemptTimeoutMs: z
        .number()
        .int()
        .min(100)
        .default(60_000)
        .describe('Bound on one delivery attempt (all its HTTP requests), ms.'),
      /** BullMQ queue name (when `redis` is configured). */
      queueName: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .default('voicebot-crm')
        .describe('BullMQ queue name (when redis is configured).'),
      enqueueTimeoutMs: z
        .number()
        .int()
        .min(50)
        .default(2000)
        .describe(
          'With redis: longest wait for Redis to take a job; after it the job is kept in crm.outbox.dir and forwarded later, ms.',
        ),
      takeoverAfterMs: z
        .number()
        .int()
        .min(1000)
        .default(30_000)
        .describe(
          'With redis: a delivery whose instance died is run again (by any instance) this long after its lock lapsed, ms.',
        ),
    })
    .prefault({}),
  /** Secret for POST /api/webhooks/zendesk (Zendesk's webhook signing secret). Absent: the route is not mounted. */
  zendeskWebhookSecret: secret()
    .optional()
    .describe('Zendesk webhook signing secret; mounts POST /api/webhooks/zendesk (callbacks).'),
  /** Accept Zendesk webhook timestamps at most this far from now (replay window), seconds. */
  zendeskWebhookToleranceSec: z
    .number()
    .int()
    .min(10)
    .default(300)
    .describe('Accept Zendesk webhook timestamps at most this far from now, seconds.'),
  zendeskCallbacksPerTicketPerDay: z
    .number()
    .int()
    .min(1)
    .default(3)
    .describe('Callbacks one Zendesk ticket can request in 24 hours; a failed attempt counts, and its cooldown stays.'),
  /** JSON screen-pop webhook for third-party agent desktops. */
  screenPopWebhookUrl: z.string().url().optional().describe('JSON screen-pop webhook for third-party agent desktops.'),
  /** Signs screen-pop webhooks (X-Voicebot-Signature). Required with screenPopWebhookUrl. */
  screenPopWebhookSecret: secret()
    .optional()
    .describe('Signs screen-pop webhooks (X-Voicebot-Signature); required with screenPopWebhookUrl.'),
});
export type CrmConfig = z.infer<typeof crmConfig>;
