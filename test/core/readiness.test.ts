import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Readiness } from '../../src/core/readiness.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import { createWebServer } from '../../src/web/server.js';

describe('Readiness', () => {
  it('is ready with no components, and only while every registered component is', () => {
    const readiness = new Readiness();
    expect(readiness.ready).toBe(true);
    readiness.set('redis', false, 'connect ECONNREFUSED 127.0.0.1:6390');
    readiness.set('telephony', true);
    expect(readiness.ready).toBe(false);
    expect(readiness.snapshot()).toEqual({
      ready: false,
      components: {
        redis: { ready: false, reason: 'connect ECONNREFUSED 127.0.0.1:6390' },
        telephony: { ready: true },
      },
    });
    readiness.set('redis', true);
    expect(readiness.snapshot()).toEqual({
      ready: true,
      components: { redis: { ready: true }, telephony: { ready: true } },
    });
  });

  it('tells listeners about changes only, and a deleted component no longer holds it back', () => {
    const readiness = new Readiness();
    const seen: boolean[] = [];
    const off = readiness.onChange((s) => seen.push(s.ready));
    readiness.set('ari', false, 'websocket closed');
    readiness.set('ari', false, 'websocket closed');
    readiness.set('ari', true);
    readiness.set('ari', false, 'websocket closed');
    readiness.delete('ari');
    off();
    readiness.set('ari', false, 'ignored by the unsubscribed listener');
    expect(seen).toEqual([false, true, false, true]);
  });

  it('returns a copy: mutating a snapshot does not change the registry', () => {
    const readiness = new Readiness();
    readiness.set('redis', true);
    const snap = readiness.snapshot();
    snap.components.redis!.ready = false;
    expect(readiness.ready).toBe(true);
  });
});

describe('/readyz and /healthz', () => {
  let web: FastifyInstance | undefined;
  afterEach(async () => {
    await web?.close();
    web = undefined;
  });

  it('answers 503 with the snapshot while a component is down, 200 once it is up; /healthz stays 200', async () => {
    const readiness = new Readiness();
    web = await createWebServer({
      logger: createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false }),
      metrics: createMetrics(false),
      readiness,
    });
    const url = await web.listen({ host: '127.0.0.1', port: 0 });

    readiness.set('redis', false, 'connect ECONNREFUSED 127.0.0.1:6390');
    let res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      ready: false,
      components: { redis: { ready: false, reason: 'connect ECONNREFUSED 127.0.0.1:6390' } },
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    readiness.set('redis', true);
    res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ready: true, components: { redis: { ready: true } } });
  });
});
