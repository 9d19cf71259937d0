import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log/logger.js';
import { createMetrics } from './core/metrics.js';
import { createWebServer } from './web/server.js';

export interface RunningApp {
  logger: Logger;
  web: FastifyInstance;
  /** where the web server listens, e.g. http://127.0.0.1:3000 */
  url: string;
  stop(): Promise<void>;
}

/** Wire the concerns together from config. Each concern owns its own objects; this only connects them. */
export async function startApp(config: Config, opts: { logger?: Logger } = {}): Promise<RunningApp> {
  const logger = opts.logger ?? createLogger(config.log);
  const metrics = createMetrics();
  const web = await createWebServer({ logger, metrics });
  const url = await web.listen({ host: config.web.host, port: config.web.port });
  logger.info({ url, backend: config.telephony.backend }, 'voicebot started');
  return {
    logger,
    web,
    url,
    async stop() {
      await web.close();
    },
  };
}
