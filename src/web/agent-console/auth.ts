import type { FastifyRequest } from 'fastify';
import type { Secret } from '../../config/secret.js';
import { isDirectLoopbackClient, tokenMatches } from '../guard.js';

/**
 * With a token: it must match (constant time; `?token=` is accepted because EventSource cannot send headers).
 * Without one (allowed only when the server listens on loopback and no proxy is configured): only a client on this
 * machine talking to us directly, never a forwarded request.
 */
export function isAllowed(req: FastifyRequest, token: Secret | undefined, trustProxy: readonly string[] = []): boolean {
  if (!token) return isDirectLoopbackClient(req, trustProxy);
  return tokenMatches(req, token, { query: true });
}
