import type { CallSession } from './store.js';

export const SESSION_VERSION = 1;

export type DecodeResult = { ok: true; session: CallSession } | { ok: false; reason: string };

/** JSON with a version field; anything else (old/new version, broken JSON) is reported, not thrown. */
export function decodeSession(raw: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, reason: 'not an object' };
  const v = value as Partial<CallSession>;
  if (v.version !== SESSION_VERSION)
    return { ok: false, reason: `version ${String(v.version)} (want ${SESSION_VERSION})` };
  if (typeof v.callId !== 'string' || typeof v.state !== 'string') return { ok: false, reason: 'missing callId/state' };
  return { ok: true, session: value as CallSession };
}

export function encodeSession(session: CallSession): string {
  return JSON.stringify({ ...session, version: SESSION_VERSION });
}
