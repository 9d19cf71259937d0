import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import { registerCrmWebhooks, type CallbackRequest } from '../../src/web/webhooks/index.js';
import { createWebServer } from '../../src/web/server.js';
import { waitFor } from '../helpers/wait.js';
import { postZendeskWebhook } from '../helpers/zendesk-webhook.js';

const SECRET = 'zendesk-replay-signing-secret';
const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

/** Item 6: a captured, validly signed webhook replayed with a fresh (unsigned) invocation id must not dial again. */
describe('Zendesk webhook replay (item 6)', () => {
  let web: FastifyInstance;
  let base: string;
  let attempts: CallbackRequest[];
  let fail: boolean;
  let clock: number;

  const start = async (opts: { cooldownMs?: number; perDay?: number } = {}) => {
    web = await createWebServer({ logger, metrics: createMetrics(false) });
    await registerCrmWebhooks(web, {
      secret: new Secret(SECRET),
      logger,
      metrics: createMetrics(false),
      now: () => clock,
      ...(opts.cooldownMs !== undefined ? { callbackCooldownMs: opts.cooldownMs } : {}),
      ...(opts.perDay !== undefined ? { callbacksPerTicketPerDay: opts.perDay } : {}),
      requestCallback: async (r) => {
        attempts.push(r);
        if (fail) throw new Error('trunk down');
      },
    });
    base = await web.listen({ host: '127.0.0.1', port: 0 });
  };
  beforeEach(() => {
    attempts = [];
    fail = false;
    clock = Date.now();
  });
  afterEach(async () => web?.close());

  const body = JSON.stringify({ ticket_id: '8080', tags: 'callback', phone: '+15557654321' });
  const send = async (ts: string, invocation: string) => {
    const res = await postZendeskWebhook(base, SECRET, body, { ts, invocation });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('a replay with a new invocation id after a failed callback is a duplicate, not a second call', async () => {
    await start();
    fail = true;
    const ts = new Date(clock).toISOString();
    expect((await send(ts, 'inv-original')).status).toBe(202);
    await waitFor(() => attempts.length === 1, 2000, 'first attempt');
    for (const id of ['inv-forged-1', 'inv-forged-2', 'inv-forged-3']) {
      expect((await send(ts, id)).json).toEqual({ status: 'duplicate' });
    }
    expect(attempts).toHaveLength(1);
  });

  it('the cooldown survives a failed attempt, and a ticket has a daily callback budget', async () => {
    await start({ cooldownMs: 60_000, perDay: 2 });
    fail = true;
    const at = (offsetMs: number) => new Date(clock + offsetMs).toISOString();
    expect((await send(at(0), 'a')).status).toBe(202);
    await waitFor(() => attempts.length === 1, 2000, 'first attempt');
    // a fresh, genuine delivery 10 s later: still cooling down although the attempt failed
    clock += 10_000;
    expect((await send(at(0), 'b')).json).toEqual({ status: 'callback already requested' });
    clock += 60_000;
    expect((await send(at(0), 'c')).status).toBe(202);
    await waitFor(() => attempts.length === 2, 2000, 'second attempt');
    clock += 60_000;
    const third = await send(at(0), 'd');
    expect(third.status).toBe(429);
    expect(attempts).toHaveLength(2);
    // the budget is per day: tomorrow the ticket may ask again
    clock += 24 * 3600_000;
    expect((await send(at(0), 'e')).status).toBe(202);
  });
});
