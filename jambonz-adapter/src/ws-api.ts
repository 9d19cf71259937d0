import type { RawData, WebSocket } from 'ws';
import type { JambonzBackend, UrlBase } from './backend.js';
import {
  callPayloadSchema,
  callStatusDataSchema,
  parseJson,
  sendJson,
  wsApiMessageSchema,
  type WsApiMessage,
} from './messages.js';
import type { JambonzVerb } from './verbs.js';
import { WarnLimiter } from 'voicebot/log';

export const WS_API_SUBPROTOCOL = 'ws.jambonz.org';

/**
 * One jambonz WebSocket API connection (one call session). Every message that needs an ack gets one at
 * once (jambonz hangs up an un-acked session:new after 5 s); nothing over 24 KiB is ever sent.
 */
export function acceptControlSocket(socket: WebSocket, base: UrlBase, backend: JambonzBackend): void {
  const log = backend.logger.child({ socket: 'ws-api' });
  if (socket.protocol !== WS_API_SUBPROTOCOL) {
    log.warn({ protocol: socket.protocol }, 'WS API connection without the ws.jambonz.org subprotocol');
    socket.close(1002, `subprotocol ${WS_API_SUBPROTOCOL} required`);
    return;
  }
  backend.controlSocketOpened(socket);
  let callSid: string | undefined;
  // a peer can send garbage at line rate: every message is counted, only a few per kind are logged
  const warnings = new WarnLimiter(log);
  const malformed = (kind: string): void => {
    backend.metrics.malformedFrames.inc({ kind });
    warnings.warn(kind, { callSid }, 'dropped malformed WS API message');
  };
  const ack = (msg: WsApiMessage, verbs?: JambonzVerb[]): void => {
    const reply =
      verbs && verbs.length > 0 ? { type: 'ack', msgid: msg.msgid, data: verbs } : { type: 'ack', msgid: msg.msgid };
    if (sendJson(socket, reply) === 'oversize') {
      backend.metrics.oversizeFrames.inc();
      log.error({ callSid, type: msg.type }, 'ack over 24 KiB not sent');
    }
  };

  const handle = (msg: WsApiMessage): void => {
    const sid = msg.call_sid ?? callSid;
    switch (msg.type) {
      case 'session:new':
      case 'session:redirect':
      case 'session:reconnect': {
        const payload = callPayloadSchema.safeParse({ call_sid: sid, ...(msg.data as object | undefined) });
        if (!payload.success) return malformed('ws_api_bad_call');
        callSid = payload.data.call_sid;
        if (msg.type === 'session:reconnect') {
          // jambonz ignores verbs in this ack: whatever we want run goes in a redirect
          ack(msg);
          return backend.reconnected(payload.data, base, socket);
        }
        return ack(msg, backend.newCall(payload.data, 'ws', base, socket));
      }
      case 'verb:hook':
      case 'dial:confirm': {
        const payload = callPayloadSchema.safeParse({ call_sid: sid, ...(msg.data as object | undefined) });
        if (!payload.success || !msg.hook) return malformed('ws_api_bad_hook');
        void backend.hook(msg.hook, payload.data, base, 'ws').then((verbs) => ack(msg, verbs));
        return;
      }
      case 'call:status': {
        // The top-level call_sid is the session's (the caller's); data says which leg the status is about.
        const data = callStatusDataSchema.safeParse(msg.data);
        if (!sid || !data.success) return malformed('ws_api_bad_status');
        const { call_sid: about = sid, parent_call_sid: parent, call_status: status, sip_status: sip } = data.data;
        // the caller's own status carries the call's details (callInfo): enough to take a call over that ended
        const call = about === sid ? callPayloadSchema.safeParse({ ...data.data, call_sid: sid }) : undefined;
        backend.callStatus({
          callSid: about,
          status,
          parentCallSid: parent ?? (about === sid ? undefined : sid),
          sipStatus: sip,
          ...(call?.success ? { payload: call.data, mode: 'ws' as const } : {}),
        });
        return;
      }
      default:
        // verb:status, jambonz:error and future types need no answer.
        log.debug({ type: msg.type, callSid }, 'WS API message ignored');
    }
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return malformed('ws_api_binary');
    const parsed = parseJson(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
    if (!parsed.ok) return malformed('ws_api_not_json');
    const msg = wsApiMessageSchema.safeParse(parsed.value);
    if (!msg.success) return malformed('ws_api_bad_message');
    handle(msg.data);
  });
  socket.on('error', (err) => log.warn({ err: err.message, callSid }, 'WS API socket error'));
  socket.once('close', (code: number) => {
    warnings.flush();
    backend.controlSocketClosed(socket);
    if (callSid) backend.controlClosedFor(callSid, socket, code);
    socket.removeAllListeners('message');
  });
}
