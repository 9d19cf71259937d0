import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Zendesk webhook signature (FACTS §4): base64(HMAC-SHA256(signing secret, timestamp + raw body)), no separator,
 * timestamp from X-Zendesk-Webhook-Signature-Timestamp (ISO-8601). Zendesk documents no replay window: we accept
 * timestamps within `toleranceSec` (default 300 s) of our clock, either way.
 */
export type ZendeskVerify = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' };

export function zendeskSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(timestamp).update(body).digest('base64');
}

export function verifyZendeskSignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  body: Buffer,
  toleranceSec: number,
  nowMs = Date.now(),
): ZendeskVerify {
  if (!timestamp || !signature) return { ok: false, reason: 'missing' };
  const at = Date.parse(timestamp);
  if (Number.isNaN(at) || Math.abs(nowMs - at) > toleranceSec * 1000) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(zendeskSignature(secret, timestamp, body), 'base64');
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
