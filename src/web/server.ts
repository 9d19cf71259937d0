import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { Readiness } from '../core/readiness.js';

export interface WebServerDeps {
  logger: Logger;
  metrics: Registry;
  /** components that must be up for /readyz to answer 200 (a fresh, empty registry when omitted) */
  readiness?: Readiness;
}

/** The one HTTP server: health, metrics, and whatever plugins the concerns register (pages, webhooks, APIs). */
export async function createWebServer(deps: WebServerDeps): Promise<FastifyInstance> {
  // Per-request info lines would drown call logs: the web logger speaks from warn up.
  const level = deps.logger.levelVal > 40 ? deps.logger.level : 'warn';
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'web' }, { level }) as FastifyBaseLogger,
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

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
