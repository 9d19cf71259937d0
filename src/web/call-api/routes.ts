import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallEventBus } from '../../core/call-events.js';
import type { CallRecord } from '../../core/call-record.js';
import { LOW_ASR_CONFIDENCE } from '../../crm/format-html.js';
import type { Logger } from '../../log/logger.js';
import type { WebConfig } from '../config.js';
import { safeEqual } from '../guard.js';
import { CallArchive } from './archive.js';
import { originAllowed } from './cors.js';
import { RecordingLinks } from './links.js';

export interface CallApiDeps {
  config: WebConfig['callApi'];
  events: CallEventBus;
  logger: Logger;
  now?: () => number;
}

/** What the sidebar shows: the call's story, turn by turn, without server paths or the caller's number. */
export interface CallTimeline {
  callId: string;
  startedAt: string;
  durationMs: number;
  outcome: CallRecord['outcome'];
  intent: string | null;
  nluConfidence: number | null;
  asrConfidence: number | null;
  summary: string;
  slots: Record<string, string>;
  escalation: { reason: string; target: string; outcome: string; atMs: number } | null;
  turns: Array<{
    atMs: number;
    speaker: 'caller' | 'bot' | 'agent';
    text: string;
    confidence?: number;
    low?: boolean;
    interrupted?: boolean;
    intent?: string | null;
  }>;
  /** the recording, playable for a few minutes (see links.ts); null when the call has none */
  recording: { url: string; expiresAt: string } | null;
  lowConfidenceBelow: number;
}

const AUDIO_TYPES: Record<string, string> = { '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg' };

export function timelineOf(record: CallRecord, recording: CallTimeline['recording']): CallTimeline {
  const intentAt = new Map(record.intents.map((i) => [i.atMs, i.intent]));
  return {
    callId: record.callId,
    startedAt: record.startedAt,
    durationMs: record.durationMs,
    outcome: record.outcome,
    intent: record.intent,
    nluConfidence: record.nluConfidence,
    asrConfidence: record.asrConfidence,
    summary: record.summary,
    slots: record.slots,
    escalation: record.escalation ?? null,
    turns: record.transcript.map((t) => ({
      atMs: t.atMs,
      speaker: t.speaker,
      text: t.text,
      ...(t.confidence !== undefined ? { confidence: t.confidence, low: t.confidence < LOW_ASR_CONFIDENCE } : {}),
      ...(t.interrupted ? { interrupted: true } : {}),
      ...(t.speaker === 'caller' && intentAt.has(t.atMs) ? { intent: intentAt.get(t.atMs)! } : {}),
    })),
    recording,
    lowConfidenceBelow: LOW_ASR_CONFIDENCE,
  };
}

/**
 * GET /api/calls/:callId (timeline JSON) and /api/calls/:callId/recording: read-only, for the Zendesk sidebar app.
 * Authenticated by web.callApi.token as `Authorization: Bearer` only (a token in the query string is refused, so it
 * never lands in a URL or an access log); compared in constant time. The recording also plays from a short-lived
 * signed link (links.ts). CORS for web.callApi.allowedOrigins. Not mounted without a token.
 */
export async function registerCallApi(web: FastifyInstance, deps: CallApiDeps): Promise<CallArchive | undefined> {
  const log = deps.logger.child({ component: 'call-api' });
  const token = deps.config.token;
  if (!token) {
    log.info('call API disabled: web.callApi.token is not set');
    return undefined;
  }
  const now = deps.now ?? Date.now;
  const archive = new CallArchive(deps.config.dir, deps.events, log);
  const links = new RecordingLinks(token, deps.config.recordingLinkTtlSec);
  const allowed = deps.config.allowedOrigins;

  /** undefined when the request may go on; else the reply already sent */
  const authorize = (req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    const query = req.query as Record<string, unknown>;
    if ('token' in query || 'access_token' in query)
      return reply.code(400).send({ error: 'send the token in the Authorization header, never in the URL' });
    const header = req.headers.authorization;
    if (!header)
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="voicebot call API"')
        .send({ error: 'token required' });
    const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!safeEqual(given, token.reveal())) return reply.code(403).send({ error: 'this token may not read calls' });
    return undefined;
  };

  await web.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (!originAllowed(origin, allowed)) {
        if (req.method === 'OPTIONS') return reply.code(403).send({ error: 'origin not allowed' });
        return;
      }
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      if (req.method === 'OPTIONS') {
        return reply
          .code(204)
          .header('access-control-allow-methods', 'GET')
          .header('access-control-allow-headers', 'authorization, range')
          .header('access-control-max-age', '600')
          .send();
      }
      reply.header('access-control-expose-headers', 'content-range, accept-ranges, content-length');
    });
    scope.options('/api/calls/:callId', async () => undefined);
    scope.options('/api/calls/:callId/recording', async () => undefined);

    scope.get<{ Params: { callId: string } }>('/api/calls/:callId', async (req, reply) => {
      const denied = authorize(req, reply);
      if (denied) return denied;
      const record = await archive.get(req.params.callId);
      if (!record) return reply.code(404).send({ error: 'no finished call with this id' });
      const recording = record.recording ? links.create(record.callId, now()) : null;
      const view = timelineOf(record, recording ? { url: recording.path, expiresAt: recording.expiresAt } : null);
      return reply.header('cache-control', 'no-store').send(view);
    });

    scope.get<{ Params: { callId: string }; Querystring: { exp?: string; sig?: string } }>(
      '/api/calls/:callId/recording',
      async (req, reply) => {
        const { callId } = req.params;
        const q = req.query;
        if (q.sig !== undefined || q.exp !== undefined) {
          const verdict = links.verify(callId, q.exp, q.sig, now());
          if (verdict !== 'ok') return reply.code(403).send({ error: `recording link ${verdict}` });
        } else {
          const denied = authorize(req, reply);
          if (denied) return denied;
        }
        const path = (await archive.get(callId))?.recording?.path;
        if (!path) return reply.code(404).send({ error: 'no recording for this call' });
        return sendFile(req, reply, resolve(path));
      },
    );
  });
  web.addHook('onClose', async () => archive.close());
  log.info({ origins: allowed }, 'call API at GET /api/calls/:callId');
  return archive;
}

/** The file, with byte ranges (an audio element seeks with them). */
async function sendFile(req: FastifyRequest, reply: FastifyReply, path: string): Promise<FastifyReply> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return reply.code(404).send({ error: 'the recording file is not available' });
  }
  reply
    .type(AUDIO_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream')
    .header('accept-ranges', 'bytes')
    .header('cache-control', 'private, no-store');
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (!range || (range[1] === '' && range[2] === '')) {
    return reply.header('content-length', size).send(createReadStream(path));
  }
  let start = range[1] === '' ? size - Number(range[2]) : Number(range[1]);
  let end = range[1] === '' || range[2] === '' ? size - 1 : Number(range[2]);
  start = Math.max(0, start);
  end = Math.min(end, size - 1);
  if (start > end) return reply.code(416).header('content-range', `bytes */${size}`).send();
  return reply
    .code(206)
    .header('content-range', `bytes ${start}-${end}/${size}`)
    .header('content-length', end - start + 1)
    .send(createReadStream(path, { start, end }));
}
