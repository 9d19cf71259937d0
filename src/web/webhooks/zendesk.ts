import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import type { Secret } from '../../config/secret.js';
import { counter } from '../../core/metrics.js';
import type { Logger } from '../../log/logger.js';
import { MemoryCallbackGuards, type CallbackGuards } from './guards.js';
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
  /** a ticket gets at most one callback per this window, whatever Zendesk sends (failed attempts included) */
  callbackCooldownMs?: number;
  /** crm.zendeskCallbacksPerTicketPerDay: callbacks one ticket can cause in 24 h, default 3 */
  callbacksPerTicketPerDay?: number;
  now?: () => number;
  /**
   * dedup and daily budgets; default in memory (one instance), RedisCallbackGuards to share them across instances
   * (the caller closes what it passes)
   */
  guards?: CallbackGuards;
}

/** The trigger payload we document; the nested form of the Zendesk ticket JSON is accepted too. */
interface Payload {
  ticket_id?: string | number;
  tags?: string | string[];
  phone?: string;
  ticket?: { id?: string | number; tags?: string | string[]; requester?: { phone?: string | null } };
}

/** The tag that asks the bot to call the requester back (`voicebot zendesk setup` builds its trigger on it). */
export const CALLBACK_TAG = 'callback';
/** Where Zendesk's webhook sends callback requests. */
export const ZENDESK_WEBHOOK_PATH = '/api/webhooks/zendesk';

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
  const guards = deps.guards ?? new MemoryCallbackGuards(now);
  const perDay = deps.callbacksPerTicketPerDay ?? 3;
  const pending = new Set<Promise<void>>();

  // The shared guards could not answer (Redis away): refuse rather than risk a second call; Zendesk retries.
  const unavailable = (reply: FastifyReply, err: unknown) => {
    count('unavailable');
    log.warn({ err: (err as Error).message }, 'zendesk webhook: callback guards unavailable, answered 503');
    return reply.code(503).header('retry-after', '10').send({ error: 'try again shortly' });
  };

  await web.register(async (scope) => {
    // The signature covers the raw bytes: keep them, parse JSON ourselves after verifying.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );

    scope.post(ZENDESK_WEBHOOK_PATH, async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const ts = header(req.headers['x-zendesk-webhook-signature-timestamp']);
      const sig = header(req.headers['x-zendesk-webhook-signature']);
      const verdict = verifyZendeskSignature(secret.reveal(), ts, sig, raw, tolerance, now());
      if (!verdict.ok) {
        count(verdict.reason === 'stale' ? 'stale' : 'bad_signature');
        log.warn({ reason: verdict.reason }, 'zendesk webhook rejected');
        return reply.code(401).send({ error: `signature ${verdict.reason}` });
      }
      // Replays are recognised by what the signature covers (timestamp + body): the invocation id header is not
      // signed, so a replay with a fresh one is still the same request. The id also dedups Zendesk's own retries.
      const ttl = 2 * tolerance * 1000;
      const signedKey = `signed:${createHash('sha256')
        .update(ts ?? '')
        .update('\n')
        .update(raw)
        .digest('hex')}`;
      const invocation = header(req.headers['x-zendesk-webhook-invocation-id']);
      let fresh: boolean;
      try {
        const freshSigned = await guards.firstSeen(signedKey, ttl);
        fresh = freshSigned && (invocation === undefined || (await guards.firstSeen(`invocation:${invocation}`, ttl)));
      } catch (err) {
        return unavailable(reply, err);
      }
      if (!fresh) {
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
      let decision: 'ok' | 'cooldown' | 'limited';
      try {
        if (!(await guards.firstSeen(`callback:${ticketId}`, deps.callbackCooldownMs ?? 10 * 60_000)))
          decision = 'cooldown';
        else decision = (await guards.takeDaily(ticketId, perDay)) ? 'ok' : 'limited';
      } catch (err) {
        return unavailable(reply, err);
      }
      if (decision === 'cooldown') {
        count('duplicate');
        return reply.code(200).send({ status: 'callback already requested' });
      }
      if (decision === 'limited') {
        count('limited');
        log.warn({ ticketId, perDay }, 'zendesk callback refused: daily limit for this ticket');
        return reply.code(429).send({ error: 'callback limit for this ticket reached for today' });
      }
      count('callback');
      log.info({ ticketId, phone }, 'zendesk asked for a callback');
      const p = deps
        .requestCallback({ phone, ticketId })
        .catch((err: unknown) => {
          // The cooldown stays: clearing it let a replayed or repeated webhook dial again at once after each failure.
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
