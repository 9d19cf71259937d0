import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Secret } from '../../config/secret.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token from `Authorization: Bearer`, `?token=`, or the password of basic auth (any user name). */
export function presentedToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : undefined;
  }
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof q === 'string' ? q : undefined;
}

/**
 * With a token: it must match (constant time). Without one: only loopback clients get in, and not through a
 * reverse proxy on the same host (a forwarded request is someone else's).
 */
export function isAllowed(req: FastifyRequest, token: Secret | undefined): boolean {
  if (!token) {
    const proxied = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
    return !proxied && LOOPBACK.has(req.socket.remoteAddress ?? '');
  }
  const given = presentedToken(req);
  return given !== undefined && same(given, token.reveal());
}
