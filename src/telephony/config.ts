import { z } from 'zod';
import { port } from '../config/sections.js';
import { secret } from '../config/secret.js';

const asteriskFields = z.strictObject({
  /**
   * inbound: the bot opens the ARI websocket and calls ARI's HTTP API (`url`). outbound: Asterisk opens the
   * websocket to the bot (ari.conf `type=outbound_websocket`, persistent or per call) and the bot sends its ARI
   * requests over that websocket, so it never needs Asterisk's HTTP port (FACTS §1c).
   */
  connection: z
    .enum(['inbound', 'outbound'])
    .default('inbound')
    .describe(
      'inbound: the bot connects to ARI at `url`. outbound: Asterisk opens the ARI websocket to the bot ' +
        '(websocket_client.conf + ari.conf type=outbound_websocket, persistent or per_call_config) at ' +
        '`outboundPath` on the web server, and every ARI request goes over that websocket.',
    ),
  outboundPath: z
    .string()
    .regex(/^\/[A-Za-z0-9/_-]*$/, 'must be a path such as /ari')
    .default('/ari')
    .describe("Web server path Asterisk's websocket_client `uri` points at (connection: outbound)."),
  /** ARI base, e.g. http://127.0.0.1:8088 */
  url: z
    .string()
    .url()
    .optional()
    .describe(
      'ARI base URL without /ari, e.g. http://127.0.0.1:8088. Required with connection: inbound. With connection: ' +
        'outbound, optional: used only to fetch recording files (Asterisk cannot send a file over the websocket).',
    ),
  username: z
    .string()
    .min(1)
    .describe(
      'ARI user (ari.conf). With connection: outbound, the `username` Asterisk presents (websocket_client.conf).',
    ),
  password: secret().describe('ARI password (connection: outbound: the websocket_client.conf `password`).'),
  app: z.string().default('voicebot').describe('ARI application name; must match Stasis(APP) in the dialplan.'),
  /** Address Asterisk sends RTP to (this bot's address as Asterisk sees it). */
  rtpHost: z
    .string()
    .default('127.0.0.1')
    .describe(
      "The bot's address as Asterisk sees it: where Asterisk sends the call's RTP (externalMedia external_host).",
    ),
  /** Local interface the RTP sockets bind to (0.0.0.0 in a container; 127.0.0.1 when Asterisk is local). */
  rtpBindHost: z
    .string()
    .default('0.0.0.0')
    .describe("Interface the bot's RTP sockets bind to (0.0.0.0 in a container; 127.0.0.1 when Asterisk is local)."),
  rtpPortMin: port().default(20000).describe('Lowest UDP port of the RTP range (one port per call).'),
  rtpPortMax: port().default(20999).describe('Highest UDP port of the RTP range.'),
  requestTimeoutMs: z.number().int().min(100).default(5000).describe('Bound on every ARI request, ms.'),
  /** How long to wait for a channel's StasisStart after the REST reply that created it. */
  stasisTimeoutMs: z
    .number()
    .int()
    .min(100)
    .default(5000)
    .describe("How long to wait for a created channel's StasisStart, ms."),
  /** Event websocket reconnect backoff (exponential with jitter between these bounds). */
  reconnectMinMs: z
    .number()
    .int()
    .min(10)
    .default(250)
    .describe('Shortest wait before reconnecting the ARI event websocket (exponential backoff with jitter), ms.'),
  reconnectMaxMs: z.number().int().min(100).default(10_000).describe('Longest wait between reconnects, ms.'),
  /** Asterisk never pings the event websocket: we do, and reconnect when a ping goes unanswered. */
  eventPingMs: z
    .number()
    .int()
    .min(50)
    .default(5000)
    .describe(
      'Ping the ARI event websocket this often; a ping unanswered by the next one means a dead connection: reconnect, ms.',
    ),
  /**
   * Where a call this instance refuses goes on in the dialplan (ARI continue), instead of a hangup with congestion:
   * the caller reaches the fallback (the shipped dialplan rings the agent in [bots-down]) rather than a 503.
   */
  refusedCallGoto: z
    .string()
    .regex(/^[^,\s]+,[^,\s]+,[1-9]\d*$/, 'must be context,extension,priority, e.g. bots-down,s,1')
    .optional()
    .describe(
      'context,extension,priority (e.g. bots-down,s,1): a call this instance refuses (draining, stopping, or at ' +
        'telephony.maxConcurrentCalls) continues there in the dialplan (ARI continue) instead of being hung up with ' +
        'congestion (SIP 503). Unset: congestion. (connection: outbound per call: a draining instance refuses the ' +
        'websocket upgrade instead, so Asterisk retries through the balancer.)',
    ),
  /** Dial strings per transfer/outbound target kind; {address} is replaced. 'endpoint' targets are used as given. */
  dialTemplates: z
    .strictObject({
      phone: z
        .string()
        .default('PJSIP/{address}@trunk')
        .describe('Dial string for `phone` targets; {address} is replaced.'),
      sip: z
        .string()
        .default('PJSIP/trunk/{address}')
        .describe('Dial string for `sip` targets; {address} is replaced.'),
      user: z.string().default('PJSIP/{address}').describe('Dial string for `user` targets; {address} is replaced.'),
    })
    .prefault({}),
  /** Caller id for outbound calls (CRM callbacks, voicebot call). */
  outboundCallerId: z.string().optional().describe('Caller id for outbound calls (CRM callbacks, `voicebot call`).'),
  /** Ring time for outbound calls, seconds. */
  outboundRingSec: z.number().int().min(5).default(30).describe('Ring time for outbound calls, seconds.'),
  recording: z
    .strictObject({
      enabled: z.boolean().default(false).describe("Record the call's bridge to WAV."),
      announce: z.boolean().default(true).describe("Speak `notice` through the bot's voice before recording starts."),
      maxSeconds: z
        .number()
        .int()
        .min(10)
        .default(3600)
        .describe('Asterisk stops a recording after this many seconds.'),
      /** Spoken before the conversation when announce is on. */
      notice: z
        .string()
        .default('This call is recorded for quality purposes.')
        .describe('Spoken before the conversation when announce is on.'),
      /** Where finished recordings are written (one WAV per call). */
      dir: z.string().default('recordings').describe('Where finished recordings are written (one WAV per call).'),
    })
    .prefault({}),
});

const asterisk = asteriskFields.superRefine((a, ctx) => {
  if (a.connection === 'inbound' && !a.url) {
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      message: 'the ARI URL is required with connection: inbound (or set connection: outbound)',
    });
  }
});

const jambonz = z.strictObject({
  /** Secret that signs HTTP webhooks (Jambonz-Signature). */
  webhookSecret: secret().describe(
    "The jambonz application's webhook secret (verifies Jambonz-Signature on HTTP webhooks).",
  ),
  /** Basic auth jambonz sends on the WebSocket API upgrade (required: anyone who reaches /ws could start calls). */
  wsUsername: z
    .string()
    .optional()
    .describe(
      'Basic-auth user jambonz sends when it opens the WebSocket API. Required (with wsPassword) unless insecureAllowUnauthenticatedWsApi.',
    ),
  wsPassword: secret().optional().describe('Basic-auth password for the WebSocket API.'),
  insecureAllowUnauthenticatedWsApi: z
    .boolean()
    .default(false)
    .describe(
      'Local development only: accept WebSocket API connections without credentials (anyone reaching /jambonz/ws can start calls).',
    ),
  sampleRate: z
    .union([z.literal(8000), z.literal(16000)])
    .default(16000)
    .describe('listen/stream audio rate, Hz: 16000 (wideband) or 8000.'),
  /** REST API for outbound calls. */
  apiBaseUrl: z.string().url().optional().describe('jambonz REST API base, for outbound calls (callbacks).'),
  accountSid: z.string().optional().describe('jambonz account for outbound calls.'),
  apiKey: secret().optional().describe('jambonz API key for outbound calls.'),
  applicationSid: z.string().optional().describe("Application that runs outbound calls (else publicUrl's webhooks)."),
  callerId: z.string().optional().describe('Caller id for outbound calls.'),
  /** URLs in verbs are never built from a request's Host, which the sender chooses. */
  publicUrl: z
    .string()
    .url()
    .optional()
    .describe(
      'Base URL jambonz uses to reach the bot (https://bot.example.com); default web.publicUrl. One of the two is required.',
    ),
  /**
   * Several instances behind a balancer: a call's audio must reach the instance serving it, so each instance puts its
   * own address in the listen verb (the balancer still carries webhooks and the WebSocket API).
   */
  instanceUrl: z
    .string()
    .url()
    .optional()
    .describe(
      "This instance's own base URL, reachable from jambonz's media server and the other instances without the balancer (http://10.0.0.5:3000): listen (audio) sockets go there, and with webhooks another instance passes this instance's hooks on to it. Default: publicUrl. Set it on each instance when several run behind one publicUrl.",
    ),
  /** Carrier trunk for `phone` transfer targets (jambonz `dial` target `trunk`). */
  trunk: z.string().optional().describe('Carrier for `phone` transfer targets (dial target trunk).'),
  /** Accepted clock skew for Jambonz-Signature timestamps. */
  signatureToleranceSec: z
    .number()
    .int()
    .min(1)
    .default(300)
    .describe('Accepted clock skew of webhook signatures, seconds.'),
  /** How long a call waits for its audio socket (or a WS API session:reconnect) before it is treated as ended. */
  reconnectGraceMs: z
    .number()
    .int()
    .min(100)
    .default(5000)
    .describe(
      'How long a call waits for a new audio socket or a WS API session:reconnect before it counts as ended, ms.',
    ),
  /**
   * We pace audio in real time, so jambonz holds well under a second of it when a mark is sent: a mark not
   * reported within this time (a media server without mark support) counts as played.
   */
  markTimeoutMs: z
    .number()
    .int()
    .min(100)
    .default(5000)
    .describe('A playout mark jambonz never reports counts as played after this long, ms.'),
  /** Timeout for REST API requests (create call). */
  requestTimeoutMs: z.number().int().min(100).default(5000).describe('Bound on REST API requests (create call), ms.'),
});

export const telephonyConfig = z.strictObject({
  /** browser: the embedded test-call page only. */
  backend: z
    .enum(['browser', 'asterisk', 'jambonz'])
    .default('browser')
    .describe(
      'Where calls come from: browser (the embedded test-call page), asterisk or jambonz (then configure that section).',
    ),
  asterisk: asterisk.optional(),
  jambonz: jambonz.optional(),
  /** Each call holds a native VAD session: this cap is what bounds memory (docs/security.md: memory per call). */
  maxConcurrentCalls: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(50)
    .describe(
      'Calls (any backend, inbound and outbound) this instance runs at once; more are refused before anything is allocated: SIP 503 via Asterisk, sip:decline 503 on jambonz, WebSocket close 1013 for the test call.',
    ),
  /**
   * After a hand-off the bot stays on the call, muted, transcribing the caller and the agent apart (Asterisk: a
   * snoop per party; jambonz: a stereo listen nested in the dial; browser: the page plays the agent).
   */
  agentStaysSilent: z
    .boolean()
    .default(false)
    .describe(
      "After an answered hand-off the bot stays on the call, muted, and transcribes the caller and the agent (speaker-labelled) into the call's record, which is completed when the call ends. false: the bot leaves at the answer and the record closes then.",
    ),
  /** Token for POST /api/calls (outbound calls). */
  outboundToken: secret().optional().describe('Bearer token for POST /api/calls and `voicebot call`.'),
});
export type TelephonyConfig = z.infer<typeof telephonyConfig>;
export type AsteriskConfig = z.infer<typeof asterisk>;
