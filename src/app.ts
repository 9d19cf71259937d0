import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { Admission } from './core/admission.js';
import { CallEventBus } from './core/call-events.js';
import { createMetrics } from './core/metrics.js';
import { Readiness } from './core/readiness.js';
import { watchRedis } from './core/redis-readiness.js';
import { assertAppendableFile, assertWritableDir, listenError } from './core/startup-error.js';
import { createCrm } from './crm/index.js';
import { runCall, type CallCoreDeps } from './dialog/call-core.js';
import { drainCalls, type DrainResult } from './core/drain.js';
import { createIntentDetector } from './dialog/nlu/index.js';
import { createLogger, type Logger } from './log/logger.js';
import { createSessionStore } from './session/index.js';
import { RedisLeaseStore } from './session/lease.js';
import { createSpeech } from './speech/index.js';
import { createBackend } from './telephony/backends.js';
import { createTracing } from './tracing/index.js';
import { registerOutboundRoutes } from './telephony/outbound/routes.js';
import { OutboundService } from './telephony/outbound/service.js';
import { registerAgentConsole } from './web/agent-console/index.js';
import { registerCallApi } from './web/call-api/routes.js';
import { registerCrmWebhooks, RedisCallbackGuards, type CallbackGuards } from './web/webhooks/index.js';
import { CallEventRelay } from './cluster/call-event-relay.js';
import { createWebServer } from './web/server.js';
import { HostPolicy } from './web/guard.js';

export interface RunningApp {
  logger: Logger;
  web: FastifyInstance;
  events: CallEventBus;
  /** what /readyz reports; components register their state here */
  readiness: Readiness;
  /** where the web server listens, e.g. http://127.0.0.1:3000 */
  url: string;
  stop(): Promise<void>;
  /**
   * SIGTERM: not ready at once, no new calls; running calls finish, or past `session.drainTimeoutSec` are detached
   * (state in the session store, calls left up) for another instance to take over. Call `stop()` after it.
   */
  drain(): Promise<DrainResult>;
}

/** Wire the concerns together from config. Each concern owns its own objects; this only connects them. */
export async function startApp(config: Config, opts: { logger?: Logger } = {}): Promise<RunningApp> {
  const logger = opts.logger ?? createLogger(config.log);
  const metrics = createMetrics();
  const events = new CallEventBus();
  const readiness = new Readiness();
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse())
      await close().catch((err: unknown) => logger.warn({ err }, 'close failed'));
  };

  try {
    checkWritablePaths(config);
    if (config.redis) {
      const watch = watchRedis(config.redis.url, readiness);
      closers.push(() => watch.close());
    }
    const speech = await createSpeech(config, logger, metrics);
    closers.push(() => speech.close());
    const sessions = createSessionStore(config, logger);
    closers.push(() => sessions.close());
    const crm = await createCrm(config, logger, metrics, events);
    closers.push(() => crm.close());

    const web = await createWebServer({
      logger,
      metrics,
      readiness,
      web: config.web,
      hosts: HostPolicy.from({
        publicUrls: [config.web.publicUrl, config.telephony.jambonz?.publicUrl],
        allowedHosts: config.web.allowedHosts,
        listenHost: config.web.host,
      }),
    });
    closers.push(() => web.close());

    const tracer = await createTracing(config.tracing, events, logger);
    if (tracer) closers.push(() => tracer.close());
    const nlu = createIntentDetector(config.dialog, logger, metrics);
    const calls = new AbortController();
    const deps: CallCoreDeps = { config, logger, metrics, events, sessions, records: crm, nlu, ...speech };
    if (tracer) deps.tracer = tracer;
    if (config.session.store === 'redis' && config.redis) {
      // several instances: each call's serving process holds a renewed lease on it (src/session/lease.ts)
      const leases = new RedisLeaseStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix });
      closers.push(() => leases.close());
      deps.leases = leases;
    }
    const onCall = async (leg: Parameters<typeof runCall>[0]) => {
      await runCall(leg, deps, calls.signal);
    };

    const admission = new Admission(config.telephony.maxConcurrentCalls, metrics);
    const { backend, dialer, ringSec } = await createBackend({
      config,
      web,
      logger,
      metrics,
      events,
      sessions,
      admission,
      readiness,
      records: crm,
      ...(deps.leases ? { leases: deps.leases } : {}),
      ...speech,
    });
    const outbound = dialer ? new OutboundService(dialer, { logger, ringSec }) : null;
    registerOutboundRoutes(web, { service: outbound, token: config.telephony.outboundToken, ringSec });
    // Several instances on one Redis: each console shows every instance's calls, and a webhook is deduplicated and
    // rate-limited once for all of them.
    let consoleEvents = events;
    let guards: CallbackGuards | undefined;
    if (config.redis) {
      const relay = new CallEventRelay(events, { ...config.redis, logger });
      relay.start();
      closers.push(() => relay.close());
      consoleEvents = relay.all;
      const shared = new RedisCallbackGuards(config.redis.url, config.redis.keyPrefix);
      closers.push(() => shared.close());
      guards = shared;
    }
    await registerAgentConsole(web, {
      config: config.web.agentConsole,
      trustProxy: config.web.trustProxy,
      events: consoleEvents,
      logger,
    });
    await registerCallApi(web, { config: config.web.callApi, events, logger });
    await registerCrmWebhooks(web, {
      ...(guards ? { guards } : {}),
      secret: config.crm.zendeskWebhookSecret,
      toleranceSec: config.crm.zendeskWebhookToleranceSec,
      callbacksPerTicketPerDay: config.crm.zendeskCallbacksPerTicketPerDay,
      logger,
      metrics,
      requestCallback: async (req) => {
        if (!outbound) throw new Error(`the ${backend.name} backend cannot place callback calls`);
        await outbound.requestCallback(req);
      },
    });

    const url = await web
      .listen({ host: config.web.host, port: config.web.port })
      .catch((err: unknown) => Promise.reject(listenError(err, config.web.host, config.web.port)));
    await backend.start(onCall);
    closers.push(async () => {
      calls.abort(new Error('shutting down'));
      await backend.stop();
    });
    logger.info({ url, backend: backend.name }, 'voicebot started');
    const drain = async () => {
      logger.info({ runningCalls: admission.active, timeoutSec: config.session.drainTimeoutSec }, 'draining');
      const result = await drainCalls({
        readiness,
        admission,
        timeoutMs: config.session.drainTimeoutSec * 1000,
        // the backend hands its calls over (each leg fires `detach`: the call core leaves the state in the store);
        // a backend that cannot hand over ends them
        detachRemaining: () => backend.stop({ handOver: true }),
      });
      logger.info(result, 'drained');
      return result;
    };
    return { logger, web, events, readiness, url, stop: closeAll, drain };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Files and directories the bot writes: unusable ones stop start-up naming their key, never a half-working bot. */
function checkWritablePaths(config: Config): void {
  assertWritableDir(config.crm.outbox.dir, 'crm.outbox.dir'); // with redis, the spill journal
  config.crm.sinks.forEach((sink, i) => {
    if (sink.type === 'file') assertAppendableFile(sink.path, `crm.sinks[${i}].path`);
  });
}
