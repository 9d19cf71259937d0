import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Secret } from '../../config/secret.js';
import type { OutboundService } from './service.js';

const body = z.strictObject({
  to: z.string().min(1).max(200),
  callerId: z.string().max(64).optional(),
  ticketId: z.string().max(64).optional(),
  timeoutSec: z.number().int().min(5).max(120).optional(),
});

/** How long the request may wait for the callee: ring time plus set-up margin. */
const MARGIN_MS = 10_000;

export function bearerMatches(req: FastifyRequest, token: Secret): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token.reveal());
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * POST /api/calls {to, callerId?, ticketId?, timeoutSec?} with `Authorization: Bearer <telephony.outboundToken>`.
 * Answers once the callee picked up (201 {callId}) or did not (409 {outcome, detail}). Without a configured
 * token the endpoint refuses everything (503): outbound calls cost money.
 */
export function registerOutboundRoutes(
  app: FastifyInstance,
  deps: { service: OutboundService | null; token: Secret | undefined; ringSec: number },
): void {
  app.post('/api/calls', async (req, reply) => {
    if (!deps.token) return reply.code(503).send({ error: 'outbound calls are disabled: set telephony.outboundToken' });
    if (!bearerMatches(req, deps.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or wrong bearer token' });
    }
    if (!deps.service) return reply.code(503).send({ error: 'the telephony backend cannot place calls' });
    const parsed = body.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: z.prettifyError(parsed.error) });
    const ring = parsed.data.timeoutSec ?? deps.ringSec;
    try {
      const callId = await deps.service.placeCall({
        ...parsed.data,
        signal: AbortSignal.timeout(ring * 1000 + MARGIN_MS),
      });
      return reply.code(201).send({ callId });
    } catch (err) {
      const e = err as { outcome?: string; message?: string };
      if (e.outcome) return reply.code(409).send({ outcome: e.outcome, detail: e.message });
      if (err instanceof Error && /cannot call/.test(err.message)) return reply.code(400).send({ error: err.message });
      req.log.error({ err }, 'outbound call failed');
      return reply.code(502).send({ error: err instanceof Error ? err.message : String(err) });
    }
  });
}
