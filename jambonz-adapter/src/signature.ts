import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Jambonz-Signature: `t=UNIX_SECONDS,v1=HEX`, HEX = HMAC-SHA256(secret, `${t}.${rawBody}`).
 * The raw body is hashed byte for byte as it arrived: re-serialising parsed JSON would break it.
 */
export const SIGNATURE_HEADER = 'jambonz-signature';

export type SignatureFailure = 'missing' | 'malformed' | 'stale' | 'mismatch';
export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

function hmacHex(secret: string, t: number, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
}

export function signWebhook(secret: string, rawBody: Buffer | string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${hmacHex(secret, t, rawBody)}`;
}

export interface VerifyOptions {
  nowSec?: number;
  toleranceSec?: number;
}

export function verifyWebhookSignature(
  header: string | string[] | undefined,
  rawBody: Buffer | string,
  secret: string,
  opts: VerifyOptions = {},
): SignatureCheck {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  const value = Array.isArray(header) ? header.join(',') : header;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(val)) t = Number(val);
    // Several v1 values are allowed so a secret can be rotated.
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(val)) candidates.push(val.toLowerCase());
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSec ?? 300)) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(hmacHex(secret, t, rawBody), 'hex');
  const matches = candidates.some((c) => timingSafeEqual(expected, Buffer.from(c, 'hex')));
  return matches ? { ok: true } : { ok: false, reason: 'mismatch' };
}
