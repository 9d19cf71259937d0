import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Admission } from '../../core/admission.js';
import type { CallEventBus } from '../../core/call-events.js';
import { counter, gauge } from '../../core/metrics.js';
import { callLogger, type Logger } from '../../log/logger.js';
import type { TelephonyBackend, TransferResult } from '../port.js';
import { BrowserCallLeg } from './browser-leg.js';
import { BROWSER_SAMPLE_RATE } from './protocol.js';
import { CallSupervisor, type OnCall } from '../supervisor.js';
import { loadAssets } from './assets.js';

export const TEST_CALL_WS_PATH = '/test-call/ws';

export interface TestCallOptions {
  logger: Logger;
  metrics: Registry;
  /** live events; each socket gets the ones for its own call */
  events: CallEventBus;
  /** the app's admission control: a call over its cap is refused with close code 1013 */
  admission?: Admission;
  /** calls beyond this are refused with close code 1013 (default 4 without `admission`) */
  maxConcurrentCalls?: number;
  /** what a transfer reports (a browser call cannot dial anyone; default "failed") */
  transferOutcome?: TransferResult['outcome'];
  /** how long shutdown waits for running calls to finish after aborting them */
  shutdownTimeoutMs?: number;
}

/** The browser backend: each page's WebSocket is one inbound call, handed to `start()`'s onCall. */
export interface BrowserBackend extends TelephonyBackend {
  /** calls currently running */
  readonly activeCalls: number;
}

/**
 * The embedded browser test call: GET / (the page), /test-call/* (its scripts), and the WebSocket
 * /test-call/ws that carries one call each. Routes are registered now (before the server listens);
 * calls are accepted once `start(onCall)` is called (normally `(leg) => runCall(leg, deps)`).
 */
export async function registerTestCall(web: FastifyInstance, opts: TestCallOptions): Promise<BrowserBackend> {
  const log = opts.logger.child({ component: 'test-call' });
  const assets = loadAssets();
  const legs = new Set<BrowserCallLeg>();
  const supervisor = new CallSupervisor({
    logger: log,
    backend: 'browser',
    ...(opts.admission ? { admission: opts.admission } : { maxCalls: opts.maxConcurrentCalls ?? 4 }),
    stopTimeoutMs: opts.shutdownTimeoutMs ?? 5000,
  });
  const started = counter(opts.metrics, 'voicebot_browser_calls_total', 'Browser test calls, by result', ['result']);
  const active = gauge(opts.metrics, 'voicebot_browser_calls_active', 'Browser test calls in progress');

  web.get('/', async (_req, reply) => {
    const page = assets.get('index.html')!;
    return reply.type(page.contentType).header('cache-control', 'no-store').send(page.body);
  });

  web.get<{ Params: { file: string } }>('/test-call/:file', async (req, reply) => {
    const asset = assets.get(req.params.file);
    if (!asset) return reply.code(404).send({ error: 'not found' });
    return reply.type(asset.contentType).header('cache-control', 'no-store').send(asset.body);
  });

  web.get(TEST_CALL_WS_PATH, { websocket: true }, (socket, req) => {
    if (!sameOrigin(req.headers.origin, req.headers.host)) {
      // another web site in the user's browser must not open calls (cross-site WebSocket hijacking)
      started.inc({ result: 'forbidden-origin' });
      socket.close(1008, 'origin not allowed');
      return;
    }
    const admitted = supervisor.admit();
    if (typeof admitted === 'string') {
      // 1013 "try again later": refused before anything is allocated for the call
      const reason = admitted === 'busy' ? 'busy' : 'not-ready';
      started.inc({ result: reason });
      socket.send(JSON.stringify({ type: 'ended', reason }));
      socket.close(1013, reason === 'busy' ? 'too many calls' : 'bot not ready');
      return;
    }
    const id = randomUUID();
    const callLog = callLogger(log, id);
    const leg = new BrowserCallLeg({
      id,
      socket,
      logger: callLog,
      metrics: opts.metrics,
      from: `browser:${req.ip}`,
      transferOutcome: opts.transferOutcome,
    });
    const unsubscribe = opts.events.subscribe((event) => {
      if (event.callId === leg.id) leg.send({ type: 'event', event });
    });
    leg.send({ type: 'ready', callId: leg.id, sampleRate: BROWSER_SAMPLE_RATE, frameMs: 20 });
    started.inc({ result: 'started' });
    active.inc();
    callLog.info('browser test call started');

    legs.add(leg);
    void supervisor.run({ leg, log: callLog, hangupReason: 'call-ended' }, admitted).finally(() => {
      unsubscribe();
      legs.delete(leg);
      active.dec();
      callLog.info('browser test call ended');
    });
  });

  /** End every running call as the network would (the core hears a hangup), then wait for them, bounded. */
  const endAll = async (reason: string): Promise<void> => {
    const stopped = supervisor.stop();
    for (const leg of legs) leg.endFromNetwork(reason);
    await stopped;
  };

  web.addHook('onClose', () => endAll('server-shutdown'));

  return {
    name: 'browser',
    get activeCalls() {
      return supervisor.active;
    },
    async start(handler: OnCall, signal?: AbortSignal) {
      supervisor.start(handler);
      signal?.addEventListener('abort', () => void supervisor.stop(), { once: true });
      await Promise.resolve();
    },
    async stop() {
      await endAll('backend-stopped');
    },
  };
}

/** Browsers send Origin on WebSocket upgrades; other clients (tests, scripts) may send none. */
function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
