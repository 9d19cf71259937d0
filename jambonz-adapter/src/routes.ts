import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JambonzBackend } from './backend.js';
import { safeEqual } from './backend.js';
import { acceptAudioSocket } from './audio-socket.js';
import { callPayloadSchema } from './messages.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from './signature.js';
import { acceptControlSocket } from './ws-api.js';
import { RELAYED_HEADER } from './hook-relay.js';

export interface JambonzRouteDeps {
  backend: JambonzBackend;
}

function basicAuth(req: FastifyRequest): { user: string; password: string } | null {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Mounts, under the backend's prefix (default /jambonz):
 *   POST /call, POST /status, POST /hook/:name   signed HTTP webhooks
 *   GET  /ws     WebSocket API (subprotocol ws.jambonz.org; basic auth when configured)
 *   GET  /audio  listen sockets (audio.jambonz.org / audio.drachtio.org; per-call basic auth)
 * Needs @fastify/websocket registered on `web`.
 */
export async function registerJambonz(web: FastifyInstance, deps: JambonzRouteDeps): Promise<void> {
  const { backend } = deps;
  const cfg = backend.config;
  const log = backend.logger;
  if (!cfg.wsUsername || !cfg.wsPassword) {
    log.warn(
      'jambonz WS API endpoint accepts connections without credentials: set telephony.jambonz.wsUsername/wsPassword',
    );
  }

  await web.register(
    async (scope) => {
      // Keep the exact bytes: the signature covers the raw body, not a re-serialisation.
      scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

      // Hooks that answer return the reply so fastify stops there.
      const verify = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const check = verifyWebhookSignature(req.headers[SIGNATURE_HEADER], raw, cfg.webhookSecret.reveal(), {
          toleranceSec: cfg.signatureToleranceSec,
        });
        if (check.ok) return undefined;
        backend.metrics.rejectedWebhooks.inc({ reason: check.reason });
        // The body is never logged: it holds caller numbers and is untrusted.
        log.warn({ reason: check.reason, path: req.url, ip: req.ip }, 'jambonz webhook rejected');
        return reply.code(401).send({ error: 'invalid signature' });
      };

      const payloadOf = (req: FastifyRequest, reply: FastifyReply) => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
        } catch {
          json = undefined;
        }
        const parsed = callPayloadSchema.safeParse(json);
        if (parsed.success) return parsed.data;
        backend.metrics.rejectedWebhooks.inc({ reason: 'bad_payload' });
        log.warn({ path: req.url }, 'jambonz webhook with an unusable body');
        void reply.code(400).send({ error: 'expected a jambonz call payload with call_sid' });
        return null;
      };

      scope.post('/call', { preHandler: verify }, async (req, reply) => {
        const payload = payloadOf(req, reply);
        if (!payload) return reply;
        const verbs = backend.newCall(payload, 'webhook', backend.urlBase(req.headers));
        return reply.code(200).type('application/json').send(verbs);
      });

      scope.post('/status', { preHandler: verify }, async (req, reply) => {
        const payload = payloadOf(req, reply);
        if (!payload) return reply;
        if (payload.call_status) {
          backend.callStatus({
            callSid: payload.call_sid,
            status: payload.call_status,
            parentCallSid: payload.parent_call_sid,
            sipStatus: payload.sip_status,
            payload,
            mode: 'webhook',
          });
        }
        return reply.code(204).send();
      });

      scope.post<{ Params: { name: string }; Querystring: { via?: string | string[] } }>(
        '/hook/:name',
        { preHandler: verify },
        async (req, reply) => {
          const payload = payloadOf(req, reply);
          if (!payload) return reply;
          // Signed like any hook (verify above: the relay header earns no trust). One another instance passed on
          // is answered here, never passed on again.
          const signature = req.headers[SIGNATURE_HEADER];
          const arrived =
            req.headers[RELAYED_HEADER] === undefined
              ? {
                  // a repeated via is no single instance's name
                  via: typeof req.query.via === 'string' ? req.query.via : undefined,
                  raw: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
                  signature: typeof signature === 'string' ? signature : undefined,
                }
              : undefined;
          const verbs = await backend.hook(req.params.name, payload, backend.urlBase(req.headers), 'webhook', arrived);
          return reply.code(200).type('application/json').send(verbs);
        },
      );

      const wsApiAuth = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
        if (!cfg.wsUsername || !cfg.wsPassword) return undefined;
        const creds = basicAuth(req);
        if (creds && safeEqual(creds.user, cfg.wsUsername) && safeEqual(creds.password, cfg.wsPassword.reveal()))
          return undefined;
        backend.metrics.rejectedWebhooks.inc({ reason: 'ws_api_auth' });
        log.warn({ ip: req.ip }, 'jambonz WS API upgrade without valid basic auth');
        return reply.code(401).header('www-authenticate', 'Basic realm="voicebot"').send();
      };
      scope.get('/ws', { websocket: true, preValidation: wsApiAuth }, (socket, req) => {
        acceptControlSocket(socket, backend.urlBase(req.headers), backend);
      });

      const audioAuth = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
        const creds = basicAuth(req);
        if (creds && backend.audioAuthOk(creds.user, creds.password)) return undefined;
        backend.metrics.rejectedWebhooks.inc({ reason: 'audio_auth' });
        log.warn({ ip: req.ip }, 'jambonz audio socket without valid per-call credentials');
        return reply.code(401).send();
      };
      scope.get('/audio', { websocket: true, preValidation: audioAuth }, (socket, req) => {
        acceptAudioSocket(socket, basicAuth(req)?.user ?? '', backend);
      });
    },
    { prefix: backend.pathPrefix },
  );
}
