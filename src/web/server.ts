import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import type { Logger } from '../log/logger.js';
import { counter } from '../core/metrics.js';
import { Readiness } from '../core/readiness.js';
import { WarnLimiter } from '../log/rate-limit.js';
import type { WebConfig } from './config.js';
import { HostPolicy } from './guard.js';

export interface WebServerDeps {
  logger: Logger;
  metrics: Registry;
  /** components that must be up for /readyz to answer 200 (a fresh, empty registry when omitted) */
  readiness?: Readiness;
  /** accepted Host names (default: IP literals and localhost only) */
  hosts?: HostPolicy;
  /** web.trustProxy and web.limits (defaults when omitted) */
  web?: Pick<WebConfig, 'trustProxy' | 'limits'>;
}

/** Largest WebSocket message accepted; a bigger one closes that socket with 1009. */
export const WS_MAX_PAYLOAD = 1024 * 1024;

const DEFAULT_LIMITS: WebConfig['limits'] = {
  maxConnections: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
};

/** The one HTTP server: health, metrics, and whatever plugins the concerns register (pages, webhooks, APIs). */
export async function createWebServer(deps: WebServerDeps): Promise<FastifyInstance> {
  // Per-request info lines would drown call logs: the web logger speaks from warn up.
  const level = deps.logger.levelVal > 40 ? deps.logger.level : 'warn';
  const limits = deps.web?.limits ?? DEFAULT_LIMITS;
  const trustProxy = deps.web?.trustProxy ?? [];
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const log = deps.logger.child({ component: 'web' }, { level }) as Logger;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Slow and idle clients must not hold sockets forever: bounded header, request and idle times.
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: Math.min(5000, limits.idleTimeoutMs),
    requestTimeout: limits.requestTimeoutMs,
    http: { headersTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeout / 2)) },
    // X-Forwarded-* only from the proxies named in config; otherwise req.ip is the TCP peer.
    trustProxy: trustProxy.length > 0 ? [...trustProxy] : false,
  });
  app.server.maxConnections = limits.maxConnections;

  const refused = counter(
    deps.metrics,
    'voicebot_web_rejected_requests_total',
    'Requests and WebSocket messages refused by the web server, by reason',
    ['reason'],
  );
  const warnings = new WarnLimiter(log);
  const wsWarnings = new WeakMap<WebSocket, WarnLimiter>();
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD },
    // A client can make a socket fail at will (oversize or invalid frames, resets): that is counted input, one
    // warning line without a stack. Anything else here is our bug and logged as an error.
    errorHandler: (err: Error & { code?: string }, socket: WebSocket, req) => {
      const code = err.code ?? '';
      if (code.startsWith('WS_ERR_') || code === 'ECONNRESET' || code === 'EPIPE') {
        refused.inc({ reason: code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'ws_oversize' : 'ws_protocol' });
        let limiter = wsWarnings.get(socket);
        if (!limiter) wsWarnings.set(socket, (limiter = new WarnLimiter(log)));
        limiter.warn(code || 'ws_error', { path: req.routeOptions.url, error: err.message }, 'websocket closed');
      } else {
        req.log.error({ err }, 'websocket handler failed');
      }
      socket.terminate();
    },
  });

  // DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 still sends `Host: evil.example`.
  const hosts = deps.hosts ?? new HostPolicy();
  app.addHook('onRequest', async (req, reply) => {
    if (hosts.allows(req.headers.host)) return;
    refused.inc({ reason: 'host' });
    warnings.warn(
      'host',
      { host: String(req.headers.host ?? '').slice(0, 100), path: req.url },
      'unknown Host refused',
    );
    return reply.code(421).send({ error: 'unknown host: add it to web.allowedHosts or web.publicUrl' });
  });

  // Liveness: the process answers HTTP. Restarting will not help a dependency that is down, so that is /readyz's job.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Readiness: every registered component is up. 503 tells a load balancer to send calls elsewhere, with the reason.
  const readiness = deps.readiness ?? new Readiness();
  app.get('/readyz', async (_req, reply) => {
    const snapshot = readiness.snapshot();
    return reply.code(snapshot.ready ? 200 : 503).send(snapshot);
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  return app;
}
