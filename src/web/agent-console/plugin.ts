import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Secret } from '../../config/secret.js';
import type { CallEventBus } from '../../core/call-events.js';
import type { Logger } from '../../log/logger.js';
import { isAllowed } from './auth.js';
import { LiveCalls, type LiveCall } from './live-calls.js';
import { AGENT_CONSOLE_HTML } from './page.js';

export interface AgentConsoleDeps {
  /** web.agentConsole from config */
  config: { enabled: boolean; token?: Secret | undefined; maxStreams?: number };
  /** web.trustProxy: with a proxy in front, no request counts as local */
  trustProxy?: readonly string[];
  events: CallEventBus;
  logger: Logger;
  /** SSE keep-alive comment interval */
  heartbeatMs?: number;
}

/** What the browser gets: the live view without server file paths. */
type CallView = Omit<LiveCall, 'recordingPath'> & { hasRecording: boolean };
const view = ({ recordingPath, ...rest }: LiveCall): CallView => ({
  ...rest,
  hasRecording: recordingPath !== undefined,
});

const AUDIO_TYPES: Record<string, string> = { '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg' };

/**
 * GET /agent (page), /agent/events (SSE), /agent/api/calls (JSON), /agent/recording/:callId.
 * Token from web.agentConsole.token (Bearer, ?token= or basic-auth password); without a token the console
 * answers loopback clients only.
 */
export interface AgentConsoleHandle {
  /** SSE streams open right now (tests check they are released) */
  openStreams(): number;
  /** SSE subscriptions refused because maxStreams were open */
  refusedStreams(): number;
  live: LiveCalls;
}

export async function registerAgentConsole(
  web: FastifyInstance,
  deps: AgentConsoleDeps,
): Promise<AgentConsoleHandle | undefined> {
  const log = deps.logger.child({ component: 'agent-console' });
  if (!deps.config.enabled) {
    log.info('agent console disabled (web.agentConsole.enabled: false)');
    return undefined;
  }
  const token = deps.config.token;
  if (!token) log.warn('agent console: web.agentConsole.token is not set, so /agent answers loopback clients only');
  const live = new LiveCalls(deps.events);
  const streams = new Set<ServerResponse>();
  const maxStreams = deps.config.maxStreams ?? 20;
  let refusedStreams = 0;

  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    if (isAllowed(req, token, deps.trustProxy)) return;
    if (token) reply.header('www-authenticate', 'Basic realm="voicebot agent console"');
    return reply
      .code(token ? 401 : 403)
      .send({ error: token ? 'agent console token required' : 'loopback only: set web.agentConsole.token' });
  };

  await web.register(async (scope) => {
    scope.addHook('onRequest', guard);

    scope.get('/agent', async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(AGENT_CONSOLE_HTML),
    );

    scope.get('/agent/api/calls', async () => ({ calls: live.list().map(view) }));

    scope.get('/agent/events', (req, reply) => {
      // each subscriber holds a socket and a listener on every call event: bounded like any other resource
      if (streams.size >= maxStreams) {
        refusedStreams++;
        return reply.code(503).header('retry-after', '30').send({ error: 'too many live-update subscribers' });
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (msg: unknown) => res.write(`data: ${JSON.stringify(msg)}\n\n`);
      send({ type: 'snapshot', calls: live.list().map(view) });
      const onChange = (call: LiveCall) => send({ type: 'call', call: view(call) });
      const onRemoved = (callId: string) => send({ type: 'removed', callId });
      live.on('change', onChange);
      live.on('removed', onRemoved);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), deps.heartbeatMs ?? 15_000);
      streams.add(res);
      const release = () => {
        clearInterval(heartbeat);
        live.off('change', onChange);
        live.off('removed', onRemoved);
        streams.delete(res);
      };
      req.raw.once('close', release);
      res.once('close', release);
    });

    scope.get<{ Params: { callId: string } }>('/agent/recording/:callId', async (req, reply) => {
      const path = live.get(req.params.callId)?.recordingPath;
      if (!path) return reply.code(404).send({ error: 'no recording for this call (yet)' });
      try {
        const info = await stat(path);
        return reply
          .type(AUDIO_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream')
          .header('content-length', info.size)
          .send(createReadStream(path));
      } catch {
        return reply.code(404).send({ error: 'recording file is not available' });
      }
    });
  });

  // SSE connections never go idle: end them so web.close() does not wait on them.
  web.addHook('preClose', async () => {
    for (const res of streams) res.end();
    streams.clear();
    live.close();
  });
  log.info({ auth: token ? 'token' : 'loopback-only' }, 'agent console at /agent');
  return { openStreams: () => streams.size, refusedStreams: () => refusedStreams, live };
}
