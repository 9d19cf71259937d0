/**
 * The checks every entry point shares: which `Host` names this bot answers to, who counts as a local client, and
 * how a token is presented and compared. Concerns that add routes (agent console, CRM APIs) build their guards
 * from these pieces instead of re-deriving them.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { Secret } from '../config/secret.js';

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return LOOPBACK_ADDRESSES.has(address) || /^(::ffff:)?127\./.test(address);
}

/** `localhost`, 127.x.x.x and ::1: a listen address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || isLoopbackAddress(bare);
}

/** The host part of a `Host` header (port and IPv6 brackets removed), lower-cased; undefined when unusable. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 1 ? h.slice(1, end) : undefined;
  }
  const colon = h.indexOf(':');
  const name = colon < 0 ? h : h.slice(0, colon);
  return name.length > 0 ? name : undefined;
}

/**
 * Which `Host` values are accepted. IP literals always pass (a rebinding attack needs a DNS name the attacker
 * controls), as does `localhost`; any other name must be configured (publicUrl, allowedHosts).
 */
export class HostPolicy {
  readonly #names: Set<string>;
  constructor(names: Iterable<string | undefined> = []) {
    this.#names = new Set();
    for (const n of names) if (n) this.#names.add(n.toLowerCase());
  }

  /** From config: the public URLs' hosts plus the listed names. */
  static from(opts: { publicUrls?: (string | undefined)[]; allowedHosts?: string[]; listenHost?: string }): HostPolicy {
    const fromUrl = (u: string | undefined) => (u ? new URL(u).hostname.replace(/^\[|\]$/g, '') : undefined);
    const listen = opts.listenHost && isIP(opts.listenHost) === 0 ? opts.listenHost : undefined;
    return new HostPolicy([...(opts.publicUrls ?? []).map(fromUrl), ...(opts.allowedHosts ?? []), listen]);
  }

  allows(hostHeader: string | undefined): boolean {
    const name = hostName(hostHeader);
    if (!name) return false;
    return isIP(name) !== 0 || name === 'localhost' || this.#names.has(name);
  }
}

/** Headers a reverse proxy may add; any of them means the request did not come straight from the client. */
const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto', 'via'];

/**
 * A client on this machine talking to us directly: the peer is a loopback address, no trusted proxy is configured
 * (behind a proxy every request comes from loopback, whoever sent it) and no forwarding header is present.
 */
export function isDirectLoopbackClient(req: FastifyRequest, trustedProxies: readonly string[]): boolean {
  if (trustedProxies.length > 0) return false;
  if (PROXY_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
  return isLoopbackAddress(req.socket.remoteAddress);
}

/** User and password of an `Authorization: Basic …` header; null when absent or malformed. */
export function basicAuth(header: string | undefined): { user: string; password: string } | null {
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token from `Authorization: Bearer`, the password of basic auth (any user name), or `?token=` if allowed. */
export function presentedToken(req: FastifyRequest, opts: { query?: boolean } = {}): string | undefined {
  const header = req.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : undefined;
  }
  if (!opts.query) return undefined;
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof q === 'string' ? q : undefined;
}

export function tokenMatches(req: FastifyRequest, token: Secret, opts: { query?: boolean } = {}): boolean {
  const given = presentedToken(req, opts);
  return given !== undefined && safeEqual(given, token.reveal());
}
