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
  /** Local interface the RTP sockets bind to (0.0.0.0 in a container; 127.0.0.1 when Asterisk is local). */
  rtpBindHost: z.string().default('0.0.0.0'),
  rtpPortMin: port().default(20000),
  rtpPortMax: port().default(20999),
  requestTimeoutMs: z.number().int().min(100).default(5000),
  agentStaysSilent: z.boolean().default(false),
  /** How long to wait for a channel's StasisStart after the REST reply that created it. */
  stasisTimeoutMs: z.number().int().min(100).default(5000),
  /** Event websocket reconnect backoff (exponential with jitter between these bounds). */
  reconnectMinMs: z.number().int().min(10).default(250),
  reconnectMaxMs: z.number().int().min(100).default(10_000),
  /** Dial strings per transfer/outbound target kind; {address} is replaced. 'endpoint' targets are used as given. */
  dialTemplates: z
    .strictObject({
      phone: z.string().default('PJSIP/{address}@trunk'),
      sip: z.string().default('PJSIP/trunk/{address}'),
      user: z.string().default('PJSIP/{address}'),
    })
    .prefault({}),
  /** Caller id for outbound calls (CRM callbacks, voicebot call). */
  outboundCallerId: z.string().optional(),
  /** Ring time for outbound calls, seconds. */
  outboundRingSec: z.number().int().min(5).default(30),
  recording: z
    .strictObject({
      enabled: z.boolean().default(false),
      announce: z.boolean().default(true),
      maxSeconds: z.number().int().min(10).default(3600),
      /** Spoken before the conversation when announce is on. */
      notice: z.string().default('This call is recorded for quality purposes.'),
      /** Where finished recordings are written (one WAV per call). */
      dir: z.string().default('recordings'),
    })
    .prefault({}),
});

const jambonz = z.strictObject({
  /** Secret that signs HTTP webhooks (Jambonz-Signature). */
  webhookSecret: secret(),
  /** Basic auth jambonz sends on the WebSocket API upgrade (required: anyone who reaches /ws could start calls). */
  wsUsername: z.string().optional(),
  wsPassword: secret().optional(),
  /** Local development only: accept WS API connections without credentials. */
  insecureAllowUnauthenticatedWsApi: z.boolean().default(false),
  sampleRate: z.union([z.literal(8000), z.literal(16000)]).default(16000),
  /** REST API for outbound calls. */
  apiBaseUrl: z.string().url().optional(),
  accountSid: z.string().optional(),
  apiKey: secret().optional(),
  applicationSid: z.string().optional(),
  callerId: z.string().optional(),
  /**
   * Base URL jambonz uses to reach this bot (https://bot.example.com); default web.publicUrl. One of them is required:
   * URLs in verbs are never built from a request's Host, which the sender chooses.
   */
  publicUrl: z.string().url().optional(),
  /** Carrier trunk for `phone` transfer targets (jambonz `dial` target `trunk`). */
  trunk: z.string().optional(),
  /** Accepted clock skew for Jambonz-Signature timestamps. */
  signatureToleranceSec: z.number().int().min(1).default(300),
  /** How long a call waits for its audio socket (or a WS API session:reconnect) before it is treated as ended. */
  reconnectGraceMs: z.number().int().min(100).default(5000),
  /**
   * We pace audio in real time, so jambonz holds well under a second of it when a mark is sent: a mark not
   * reported within this time (a media server without mark support) counts as played.
   */
  markTimeoutMs: z.number().int().min(100).default(5000),
  /** Timeout for REST API requests (create call). */
  requestTimeoutMs: z.number().int().min(100).default(5000),
});

export const telephonyConfig = z.strictObject({
  /** browser: the embedded test-call page only. */
  backend: z.enum(['browser', 'asterisk', 'jambonz']).default('browser'),
  asterisk: asterisk.optional(),
  jambonz: jambonz.optional(),
  /**
   * Calls (any backend, inbound and outbound) this instance runs at once. More are refused at once, before
   * anything is allocated for them: SIP 503 through Asterisk, `sip:decline` 503 on jambonz, WebSocket close 1013
   * for the browser test call. Each call holds a native VAD session (see docs/security.md for the memory per call).
   */
  maxConcurrentCalls: z.number().int().min(1).max(10_000).default(50),
  /** Token for POST /api/calls (outbound calls). */
  outboundToken: secret().optional(),
});
export type TelephonyConfig = z.infer<typeof telephonyConfig>;
export type AsteriskConfig = z.infer<typeof asterisk>;
