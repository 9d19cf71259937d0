/**
 * Asterisk's side of ARI outbound websockets (FACTS §1c; res/res_websocket_client.c, res/ari/ari_websockets.c,
 * res/ari/ari_websocket_requests.c, Asterisk 22): the websocket_client.conf connection Asterisk opens to the app,
 * and the RESTRequest → RESTResponse exchange over it, validated as ari_websocket_requests.c does.
 */
import WebSocket from 'ws';

/** websocket_client.conf `[bots] type=websocket_client` + ari.conf `type=outbound_websocket`. */
export interface OutboundWebsocketConfig {
  /** `uri=ws://host:port/ari` */
  uri: string;
  /** Basic auth on the upgrade */
  username: string;
  password: string;
  connectionType: 'persistent' | 'per_call_config';
  /** ari.conf `apps=` (one app here); default the emulator's app */
  app?: string;
  /** `connection_timeout`, ms (default 500) */
  connectionTimeoutMs?: number;
  /** `reconnect_interval`, ms (default 500) */
  reconnectIntervalMs?: number;
  /** `reconnect_attempts`: per-call connection attempts before the call fails (default 4) */
  reconnectAttempts?: number;
  /** STASIS_END_POST_WAIT: a per-call socket closes this long after its channel's StasisEnd (3000 ms in Asterisk) */
  perCallCloseMs?: number;
}

/** One attempt: subprotocol `ari` (the server must accept it), Basic auth, `connection_timeout`. */
export function openClientSocket(cfg: OutboundWebsocketConfig): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(cfg.uri, ['ari'], {
      headers: { authorization: `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}` },
      handshakeTimeout: cfg.connectionTimeoutMs ?? 500,
    });
    const fail = (err: Error) => {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      ws.removeAllListeners('error');
      ws.removeAllListeners('unexpected-response');
      resolve(ws);
    });
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      fail(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
  });
}

/** Up to `attempts` connections, `reconnect_interval` apart; null when none succeeded. */
export async function connectWithAttempts(cfg: OutboundWebsocketConfig, attempts: number): Promise<WebSocket | null> {
  for (let i = 0; i < attempts; i++) {
    try {
      return await openClientSocket(cfg);
    } catch {
      if (i < attempts - 1) await new Promise((r) => setTimeout(r, cfg.reconnectIntervalMs ?? 500));
    }
  }
  return null;
}

export type ParsedRestRequest =
  | {
      ok: true;
      transactionId: string;
      requestId: string;
      method: 'GET' | 'POST' | 'PUT' | 'DELETE';
      /** as given, relative to /ari */
      uri: string;
      path: string;
      query: URLSearchParams;
      body: unknown;
    }
  | {
      ok: false;
      transactionId: string;
      requestId: string;
      uri: string;
      status: number;
      reason: string;
      message: string;
    };

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);

/**
 * parse_rest_request_msg(): type must be RESTRequest, uri non-empty (its query string parsed), method known,
 * `query_strings` an optional [{name, value}] array, `message_body` a string that needs a content_type
 * (application/json or application/x-www-form-urlencoded). ast_ari_invoke() then routes the uri segment by segment
 * from the root: a leading or trailing slash does not route (404 / 302 in Asterisk; 404 here, stricter).
 */
export function parseRestRequest(msg: Record<string, unknown>): ParsedRestRequest {
  const str = (k: string) => (typeof msg[k] === 'string' ? msg[k] : '');
  const ids = { transactionId: str('transaction_id'), requestId: str('request_id'), uri: str('uri') };
  const bad = (message: string) => ({ ok: false as const, ...ids, status: 400, reason: 'Bad request', message });
  if (!str('type')) return bad("No 'type' property.");
  if (str('type') !== 'RESTRequest') return bad('Unknown request type.');
  if (!ids.uri) return bad("Empty or missing 'uri' property.");
  const method = str('method').toUpperCase();
  if (!METHODS.has(method)) return bad("Unknown or missing 'method' property.");
  const [path = '', search = ''] = ids.uri.split('?', 2);
  if (path.startsWith('/') || path.endsWith('/'))
    return { ok: false, ...ids, status: 404, reason: 'Not Found', message: 'Resource not found' };
  const query = new URLSearchParams(search);
  const qs = msg['query_strings'];
  if (qs !== undefined) {
    if (!Array.isArray(qs)) return bad("Unable to parse 'query_strings' array.");
    for (const item of qs as Array<{ name?: unknown; value?: unknown }>) {
      if (typeof item?.name !== 'string' || typeof item.value !== 'string')
        return bad("Unable to parse 'query_strings' array.");
      query.append(item.name, item.value);
    }
  }
  let body: unknown = undefined;
  const text = str('message_body');
  if (text) {
    const type = str('content_type');
    if (!type) return bad("No 'content_type' for 'message_body'.");
    if (type === 'application/json') {
      try {
        body = JSON.parse(text);
      } catch {
        return bad("Unable to parse 'message_body' as 'application/json'.");
      }
    } else if (type === 'application/x-www-form-urlencoded') {
      for (const [k, v] of new URLSearchParams(text)) query.append(k, v);
    } else return bad('Unknown content type.');
  }
  return { ok: true, ...ids, method: method as 'GET', path, query, body };
}

const REASONS: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  406: 'Not Acceptable.  Use HTTP GET',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};

/** send_rest_response(): a JSON message body only when there is one. */
export function restResponse(
  ids: { transactionId: string; requestId: string; uri: string },
  status: number,
  payload: unknown,
  reason = REASONS[status] ?? '',
): string {
  const body = payload === undefined ? undefined : JSON.stringify(payload);
  return JSON.stringify({
    type: 'RESTResponse',
    transaction_id: ids.transactionId,
    request_id: ids.requestId,
    status_code: status,
    reason_phrase: reason,
    uri: ids.uri,
    ...(body !== undefined ? { content_type: 'application/json', message_body: body } : {}),
  });
}
