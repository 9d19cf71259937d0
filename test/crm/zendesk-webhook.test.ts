import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { createMetrics } from '../../src/core/metrics.js';
import { registerCrmWebhooks, zendeskSignature, type CallbackRequest } from '../../src/web/webhooks/index.js';
import { createWebServer } from '../../src/web/server.js';
import { captureLogger, waitFor } from './helpers.js';

const SECRET = 'dGhpcyBpcyBhIHNpZ25pbmcgc2VjcmV0';

describe('POST /api/webhooks/zendesk', () => {
  let web: FastifyInstance;
  let base: string;
  let metrics: Registry;
  let callbacks: CallbackRequest[];
  let failCallback = false;

  beforeEach(async () => {
    const { logger } = captureLogger('warn');
    metrics = createMetrics(false);
    callbacks = [];
    failCallback = false;
    web = await createWebServer({ logger, metrics });
    await registerCrmWebhooks(web, {
      secret: new Secret(SECRET),
      logger,
      metrics,
      requestCallback: async (r) => {
        if (failCallback) throw new Error('no route');
        callbacks.push(r);
      },
    });
    base = await web.listen({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => web.close());

  const post = (body: string, opts: { ts?: string; secret?: string; invocation?: string; sig?: string } = {}) => {
    const ts = opts.ts ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-zendesk-webhook-signature-timestamp': ts,
      'x-zendesk-webhook-signature': opts.sig ?? zendeskSignature(opts.secret ?? SECRET, ts, body),
    };
    if (opts.invocation) headers['x-zendesk-webhook-invocation-id'] = opts.invocation;
    return fetch(`${base}/api/webhooks/zendesk`, { method: 'POST', headers, body });
  };
  const callbackBody = (id = 4711) =>
    JSON.stringify({ ticket_id: String(id), tags: 'voicebot callback billing', phone: '+15551234567' });

  it('a ticket tagged callback asks telephony for an outbound call', async () => {
    const res = await post(callbackBody(), { invocation: 'inv-1' });
    expect(res.status).toBe(202);
    await waitFor(() => callbacks.length === 1, 2000, 'callback');
    expect(callbacks[0]).toEqual({ phone: '+15551234567', ticketId: '4711' });
  });

  it('accepts the nested ticket JSON form too, and ignores tickets without the tag', async () => {
    const nested = JSON.stringify({ ticket: { id: 9, tags: ['callback'], requester: { phone: '+4930123456' } } });
    expect((await post(nested)).status).toBe(202);
    expect(await (await post(JSON.stringify({ ticket_id: '10', tags: 'voicebot', phone: '+1' }))).json()).toEqual({
      status: 'ignored',
    });
    await waitFor(() => callbacks.length === 1, 2000, 'callback');
    expect(callbacks).toEqual([{ phone: '+4930123456', ticketId: '9' }]);
  });

  it('rejects a bad signature, a wrong secret, a tampered body and a stale timestamp', async () => {
    expect((await post(callbackBody(), { secret: 'other' })).status).toBe(401);
    expect((await post(callbackBody(), { sig: 'AAAA' })).status).toBe(401);
    const ts = new Date().toISOString();
    const sig = zendeskSignature(SECRET, ts, callbackBody(1));
    expect((await post(callbackBody(2), { ts, sig })).status).toBe(401);
    const old = new Date(Date.now() - 301_000).toISOString();
    const res = await post(callbackBody(), { ts: old });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'signature stale' });
    expect(callbacks).toHaveLength(0);
    const text = await metrics.metrics();
    expect(text).toMatch(/voicebot_crm_webhooks_total\{source="zendesk",result="bad_signature"\} 3/);
    expect(text).toMatch(/voicebot_crm_webhooks_total\{source="zendesk",result="stale"\} 1/);
  });

  it('drops repeated deliveries (same invocation id, or same signed request) and repeated callbacks for a ticket', async () => {
    const ts = new Date().toISOString();
    const body = callbackBody();
    const sig = zendeskSignature(SECRET, ts, body);
    expect((await post(body, { ts, sig })).status).toBe(202);
    expect(await (await post(body, { ts, sig })).json()).toEqual({ status: 'duplicate' });
    expect(await (await post(body, { invocation: 'x-1' })).json()).toEqual({ status: 'callback already requested' });
    expect(await (await post(callbackBody(5), { invocation: 'x-2' })).json()).toMatchObject({
      status: 'callback requested',
    });
    expect(await (await post(callbackBody(6), { invocation: 'x-2' })).json()).toEqual({ status: 'duplicate' });
    await waitFor(() => callbacks.length === 2, 2000, 'two callbacks');
    expect(callbacks.map((c) => c.ticketId)).toEqual(['4711', '5']);
  });

  it('a failed callback keeps the ticket in its cooldown (no immediate redial)', async () => {
    failCallback = true;
    expect((await post(callbackBody(), { invocation: 'a' })).status).toBe(202);
    await waitFor(async () => /result="callback_failed"\} 1/.test(await metrics.metrics()), 2000, 'failure counted');
    failCallback = false;
    // a genuinely new delivery (new timestamp) for the same ticket, not a replay
    const later = new Date(Date.now() + 2000).toISOString();
    expect(await (await post(callbackBody(), { invocation: 'b', ts: later })).json()).toEqual({
      status: 'callback already requested',
    });
    expect(callbacks).toEqual([]);
  });

  it('is not mounted without a secret', async () => {
    const { logger, lines } = captureLogger();
    const other = await createWebServer({ logger, metrics: createMetrics(false) });
    await registerCrmWebhooks(other, {
      secret: undefined,
      logger,
      metrics: createMetrics(false),
      requestCallback: async () => undefined,
    });
    const res = await other.inject({ method: 'POST', url: '/api/webhooks/zendesk', payload: '{}' });
    expect(res.statusCode).toBe(404);
    expect(lines.some((l) => String(l.msg).includes('zendeskWebhookSecret is not set'))).toBe(true);
    await other.close();
  });
});
