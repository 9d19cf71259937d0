import { z } from 'zod';
import { port } from '../config/sections.js';
import { secret } from '../config/secret.js';

const asterisk = z.strictObject({
  /** ARI base, e.g. http://127.0.0.1:8088 */
  url: z.string().url(),
  username: z.string().min(1),
  password: secret(),
  app: z.string().default('voicebot'),
  /** Address Asterisk sends RTP to (this bot's address as Asterisk sees it). */
  rtpHost: z.string().default('127.0.0.1'),
  rtpPortMin: port().default(20000),
  rtpPortMax: port().default(20999),
  requestTimeoutMs: z.number().int().min(100).default(5000),
  agentStaysSilent: z.boolean().default(false),
  recording: z
    .strictObject({
      enabled: z.boolean().default(false),
      announce: z.boolean().default(true),
      maxSeconds: z.number().int().min(10).default(3600),
    })
    .prefault({}),
});

const jambonz = z.strictObject({
  /** Secret that signs HTTP webhooks (Jambonz-Signature). */
  webhookSecret: secret(),
  /** Basic auth jambonz sends on the WebSocket API upgrade. */
  wsUsername: z.string().optional(),
  wsPassword: secret().optional(),
  sampleRate: z.union([z.literal(8000), z.literal(16000)]).default(16000),
  /** REST API for outbound calls. */
  apiBaseUrl: z.string().url().optional(),
  accountSid: z.string().optional(),
  apiKey: secret().optional(),
  applicationSid: z.string().optional(),
  callerId: z.string().optional(),
});

export const telephonyConfig = z.strictObject({
  /** browser: the embedded test-call page only. */
  backend: z.enum(['browser', 'asterisk', 'jambonz']).default('browser'),
  asterisk: asterisk.optional(),
  jambonz: jambonz.optional(),
  /** Token for POST /api/calls (outbound calls). */
  outboundToken: secret().optional(),
});
export type TelephonyConfig = z.infer<typeof telephonyConfig>;
