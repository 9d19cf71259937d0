import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';

export interface WebServerDeps {
  logger: Logger;
  metrics: Registry;
}

/** The one HTTP server: health, metrics, and whatever plugins the concerns register (pages, webhooks, APIs). */
export async function createWebServer(deps: WebServerDeps): Promise<FastifyInstance> {
  // Per-request info lines would drown call logs: the web logger speaks from warn up.
  const level = deps.logger.levelVal > 40 ? deps.logger.level : 'warn';
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'web' }, { level }) as FastifyBaseLogger,
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });

  // Liveness: the process answers HTTP. Dependencies are checked by `voicebot doctor`.
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/metrics', async (_req, reply) => {
    return reply.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  return app;
}
