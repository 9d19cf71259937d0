import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * X-Voicebot-Signature: t=UNIX_SECONDS,v1=HEX where HEX = HMAC-SHA256(secret, `${t}.${rawBody}`).
 * Same scheme as Jambonz-Signature, so one verifier serves both.
 */
export const SIGNATURE_HEADER = 'x-voicebot-signature';

export function signBody(secret: string, body: string, nowSec = Math.floor(Date.now() / 1000)): string {
  const hex = createHmac('sha256', secret).update(`${nowSec}.${body}`).digest('hex');
  return `t=${nowSec},v1=${hex}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/** Receivers: verify against the raw body bytes as received, within `toleranceSec` of now. */
export function verifyBody(
  secret: string,
  body: string,
  header: string | undefined,
  toleranceSec = 300,
  nowSec = Math.floor(Date.now() / 1000),
): VerifyResult {
  if (!header) return { ok: false, reason: 'malformed' };
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/i.test(v1)) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSec - t) > toleranceSec) return { ok: false, reason: 'stale' };
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
