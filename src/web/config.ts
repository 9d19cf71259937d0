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
    .describe(
      'Public base URL used in links (agent console in screen pops, jambonz hooks). Its host name is accepted in the Host header.',
    ),
  /** Any other DNS name in `Host` is refused (421) on every route: DNS rebinding cannot reach the bot. */
  allowedHosts: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Host names (no port) accepted in the Host header besides publicUrl, localhost and IP literals; any other name gets 421 on every route (DNS-rebinding protection).',
    ),
  trustProxy: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For/-Proto are believed. Empty: forwarding headers are ignored. Set: the agent console needs a token.',
    ),
  limits: z
    .strictObject({
      maxConnections: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe('Open TCP connections beyond this are refused at accept (call WebSockets count too).'),
      headersTimeoutMs: z
        .number()
        .int()
        .min(100)
        .default(10_000)
        .describe('A client must send its complete request headers within this time, or the connection is closed.'),
      requestTimeoutMs: z
        .number()
        .int()
        .min(100)
        .default(30_000)
        .describe('A client must send its whole request within this time (408 otherwise).'),
      idleTimeoutMs: z
        .number()
        .int()
        .min(100)
        .default(30_000)
        .describe(
          'A connection with no traffic for this long is closed (WebSockets are exempt; the SSE stream sends keep-alives).',
        ),
    })
    .prefault({})
    .describe('Bounds on the web server so slow or idle clients cannot hold its sockets.'),
  agentConsole: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Serve the agent console at /agent.'),
      /** Bearer token (or basic-auth password) agents use to open /agent. */
      token: secret()
        .optional()
        .describe(
          'Token agents use to open /agent (Bearer header, ?token=, or the basic-auth password). Required unless web.host is a loopback address and trustProxy is empty; then only direct loopback clients get in.',
        ),
      maxStreams: z.number().int().min(1).default(20).describe('Live-update (SSE) subscribers at once; more get 503.'),
    })
    .prefault({}),
  callApi: z
    .strictObject({
      token: secret()
        .optional()
        .describe(
          'Read-only token for GET /api/calls/:callId (the Zendesk sidebar app sends it as `Authorization: Bearer`, never in a URL). Unset: the API is not mounted. Must differ from web.agentConsole.token.',
        ),
      dir: z
        .string()
        .default('data/calls')
        .describe(
          'Where finished calls are kept for the call API (one JSON file per call; recordings stay where they are).',
        ),
      allowedOrigins: z
        .array(z.string().min(1))
        .default(['https://*.apps.zdusercontent.com'])
        .describe(
          'Browser origins that may read the call API (CORS). `https://*.example.com` matches its subdomains; Zendesk serves app iframes from https://*.apps.zdusercontent.com.',
        ),
      recordingLinkTtlSec: z
        .number()
        .int()
        .min(10)
        .max(3600)
        .default(600)
        .describe(
          'How long the recording link in a call API answer plays, seconds (bound to one call; it is not the token).',
        ),
    })
    .prefault({})
    .describe('Read-only call API for the Zendesk sidebar app (zendesk-app/).'),
});
export type WebConfig = z.infer<typeof webConfig>;
