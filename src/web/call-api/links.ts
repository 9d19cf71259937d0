import { createHmac } from 'node:crypto';
import type { Secret } from '../../config/secret.js';
import { safeEqual } from '../guard.js';

/**
 * Recording links: an `<audio>` element cannot send an Authorization header, and Zendesk's request proxy cannot
 * fetch binary files, so the timeline answer carries a link that plays one call's recording for a few minutes.
 * Its signature is an HMAC keyed by a key derived from the API token: the token itself never appears in a URL,
 * and a link says nothing about it.
 */
export class RecordingLinks {
  readonly #key: Buffer;
  constructor(
    token: Secret,
    readonly ttlSec: number,
  ) {
    this.#key = createHmac('sha256', token.reveal()).update('voicebot recording link v1').digest();
  }

  #sign(callId: string, exp: number): string {
    return createHmac('sha256', this.#key).update(`${callId}\n${exp}`).digest('base64url');
  }

  /** Path and query of a link valid until now + ttlSec (whole seconds). */
  create(callId: string, nowMs: number): { path: string; expiresAt: string } {
    const exp = Math.floor(nowMs / 1000) + this.ttlSec;
    const path = `/api/calls/${encodeURIComponent(callId)}/recording?exp=${exp}&sig=${this.#sign(callId, exp)}`;
    return { path, expiresAt: new Date(exp * 1000).toISOString() };
  }

  verify(callId: string, exp: unknown, sig: unknown, nowMs: number): 'ok' | 'expired' | 'invalid' {
    if (typeof exp !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(exp)) return 'invalid';
    if (!safeEqual(sig, this.#sign(callId, Number(exp)))) return 'invalid';
    return Number(exp) * 1000 < nowMs ? 'expired' : 'ok';
  }
}
