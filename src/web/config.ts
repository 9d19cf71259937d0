import { z } from 'zod';
import { secret } from '../config/secret.js';

export const webConfig = z.strictObject({
  host: z.string().default('127.0.0.1'),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535).default(3000),
  /** Public base URL used in links (ticket screen pops, jambonz hooks). Its host is accepted in `Host`. */
  publicUrl: z.string().url().optional(),
  /**
   * Host names (no port) accepted in the `Host` header besides publicUrl's, `localhost` and IP literals. Any other
   * name is refused with 421 on every route, so a web page whose DNS name is re-pointed at this bot (DNS rebinding)
   * cannot read from it.
   */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /**
   * Addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed. Empty:
   * forwarding headers are ignored, and the agent console never treats a request as local.
   */
  trustProxy: z.array(z.string().min(1)).default([]),
  limits: z
    .strictObject({
      /** Open TCP connections beyond this are refused at accept (calls' WebSockets count too). */
      maxConnections: z.number().int().min(1).default(1000),
      /** A client must finish sending its request headers within this time. */
      headersTimeoutMs: z.number().int().min(100).default(10_000),
      /** … and its whole request within this time. */
      requestTimeoutMs: z.number().int().min(100).default(30_000),
      /** A connection with no traffic for this long is closed (WebSockets are exempt; SSE sends keep-alives). */
      idleTimeoutMs: z.number().int().min(100).default(30_000),
    })
    .prefault({}),
  agentConsole: z
    .strictObject({
      enabled: z.boolean().default(true),
      /**
       * Bearer token (or basic-auth password) agents use to open /agent. Required unless web.host is a loopback
       * address and no trustProxy is set.
       */
      token: secret().optional(),
      /** Live-update (SSE) subscribers beyond this get 503. */
      maxStreams: z.number().int().min(1).default(20),
    })
    .prefault({}),
});
export type WebConfig = z.infer<typeof webConfig>;
