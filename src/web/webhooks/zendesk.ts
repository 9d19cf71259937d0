import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Secret } from '../../config/secret.js';
import { counter } from '../../core/metrics.js';
import type { Logger } from '../../log/logger.js';
import { verifyZendeskSignature } from './zendesk-signature.js';

export interface CallbackRequest {
  phone: string;
  ticketId: string;
}

export interface CrmWebhookDeps {
  /** crm.zendeskWebhookSecret; absent → the route is not mounted */
  secret: Secret | undefined;
  /** crm.zendeskWebhookToleranceSec (replay window), default 300 */
  toleranceSec?: number;
  logger: Logger;
  metrics: Registry;
  /** asks the telephony backend for an outbound call (Asterisk originate, jambonz REST) */
  requestCallback: (req: CallbackRequest) => Promise<void>;
  /** a ticket gets at most one callback per this window, whatever Zendesk sends */
  callbackCooldownMs?: number;
  now?: () => number;
}

/** The trigger payload we document; the nested form of the Zendesk ticket JSON is accepted too. */
interface Payload {
  ticket_id?: string | number;
  tags?: string | string[];
  phone?: string;
  ticket?: { id?: string | number; tags?: string | string[]; requester?: { phone?: string | null } };
}

const CALLBACK_TAG = 'callback';

/** Remembers keys for a while: repeated deliveries (Zendesk retries) and repeated callbacks are dropped. */
class SeenKeys {
  readonly #keys = new Map<string, number>();
  constructor(readonly max = 10_000) {}
  /** true if the key was new (and is now remembered until `until`) */
  add(key: string, now: number, ttlMs: number): boolean {
    for (const [k, exp] of this.#keys) {
      if (exp > now && this.#keys.size < this.max) break; // insertion order ≈ expiry order
      this.#keys.delete(k);
    }
    const exp = this.#keys.get(key);
    if (exp !== undefined && exp > now) return false;
    this.#keys.set(key, now + ttlMs);
    return true;
  }
  delete(key: string): void {
    this.#keys.delete(key);
  }
}

/**
 * POST /api/webhooks/zendesk: verified (signature over timestamp + raw body, replay window), deduplicated,
 * and a ticket tagged `callback` becomes an outbound call request. Answers fast; the call is placed in the background.
 */
export async function registerCrmWebhooks(web: FastifyInstance, deps: CrmWebhookDeps): Promise<void> {
  const log = deps.logger.child({ component: 'crm-webhooks' });
  const secret = deps.secret;
  if (!secret) {
    log.info('zendesk webhooks disabled: crm.zendeskWebhookSecret is not set');
    return;
  }
  const tolerance = deps.toleranceSec ?? 300;
  const now = deps.now ?? Date.now;
  const results = counter(deps.metrics, 'voicebot_crm_webhooks_total', 'Inbound CRM webhooks by result', [
    'source',
    'result',
  ]);
  const count = (result: string) => results.inc({ source: 'zendesk', result });
  const deliveries = new SeenKeys();
  const callbacks = new SeenKeys();
  const pending = new Set<Promise<void>>();

  await web.register(async (scope) => {
    // The signature covers the raw bytes: keep them, parse JSON ourselves after verifying.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );

    scope.post('/api/webhooks/zendesk', async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const ts = header(req.headers['x-zendesk-webhook-signature-timestamp']);
      const sig = header(req.headers['x-zendesk-webhook-signature']);
      const verdict = verifyZendeskSignature(secret.reveal(), ts, sig, raw, tolerance, now());
      if (!verdict.ok) {
        count(verdict.reason === 'stale' ? 'stale' : 'bad_signature');
        log.warn({ reason: verdict.reason }, 'zendesk webhook rejected');
        return reply.code(401).send({ error: `signature ${verdict.reason}` });
      }
      const deliveryKey =
        header(req.headers['x-zendesk-webhook-invocation-id']) ??
        createHash('sha256').update(`${ts}|${sig}`).digest('hex');
      if (!deliveries.add(deliveryKey, now(), 2 * tolerance * 1000)) {
        count('duplicate');
        return reply.code(200).send({ status: 'duplicate' });
      }
      let payload: Payload;
      try {
        payload = JSON.parse(raw.toString('utf8') || '{}') as Payload;
      } catch {
        count('invalid');
        return reply.code(400).send({ error: 'body is not JSON' });
      }
      const ticketId = String(payload.ticket_id ?? payload.ticket?.id ?? '');
      const tags = tagList(payload.tags ?? payload.ticket?.tags);
      if (!tags.includes(CALLBACK_TAG)) {
        count('ignored');
        return reply.code(200).send({ status: 'ignored' });
      }
      const phone = (payload.phone ?? payload.ticket?.requester?.phone ?? '').trim();
      if (!ticketId || !phone) {
        count('invalid');
        log.warn({ ticketId }, 'zendesk callback webhook without ticket id or phone');
        return reply.code(422).send({ error: 'callback needs ticket_id and phone' });
      }
      if (!callbacks.add(ticketId, now(), deps.callbackCooldownMs ?? 10 * 60_000)) {
        count('duplicate');
        return reply.code(200).send({ status: 'callback already requested' });
      }
      count('callback');
      log.info({ ticketId, phone }, 'zendesk asked for a callback');
      const p = deps
        .requestCallback({ phone, ticketId })
        .catch((err: unknown) => {
          callbacks.delete(ticketId); // let a later webhook try again
          count('callback_failed');
          log.error({ ticketId, error: (err as Error).message }, 'callback request failed');
        })
        .finally(() => pending.delete(p));
      pending.add(p);
      return reply.code(202).send({ status: 'callback requested', ticketId });
    });
  });
  web.addHook('onClose', async () => {
    await Promise.allSettled([...pending]);
  });
  log.info({ toleranceSec: tolerance }, 'zendesk webhooks at POST /api/webhooks/zendesk');
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function tagList(tags: string | string[] | undefined): string[] {
  if (Array.isArray(tags)) return tags.map((t) => String(t).toLowerCase());
  return (tags ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase());
}
