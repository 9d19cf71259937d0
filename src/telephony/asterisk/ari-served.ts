import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { Logger } from '../../log/logger.js';
import type { AriRestRequest, AriRestResponse, AriTransport } from './ari-client.js';
import { parseAriMessage } from './ari-events.js';
import type { AriEvent } from './ari-types.js';

export interface ServedAriEvents {
  /** the Stasis app this connection serves, from its first message (`voicebot`, or `voicebot:<channel>` per call) */
  app: [app: string];
  event: [ev: AriEvent];
  close: [];
}

/** A RESTResponse as res/ari/ari_websocket_requests.c sends it. */
interface RestResponseMessage {
  type: 'RESTResponse';
  request_id?: string;
  status_code?: number;
  reason_phrase?: string;
  message_body?: string;
}

interface Pending {
  resolve(res: AriRestResponse): void;
  reject(err: Error): void;
}

/**
 * One ARI websocket that Asterisk opened to the bot (ari.conf `type=outbound_websocket`, FACTS §1c): its events,
 * and the bot's ARI requests sent over it as `RESTRequest` messages, matched to their `RESTResponse` by request id.
 * Asterisk never pings, so we do: a ping unanswered by the next one closes the connection.
 */
export class ServedAriConnection extends EventEmitter<ServedAriEvents> implements AriTransport {
  readonly #ws: WebSocket;
  readonly #logger: Logger;
  readonly #onInvalid: ((type: string) => void) | undefined;
  readonly #pending = new Map<string, Pending>();
  #app: string | null = null;
  #pingTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(ws: WebSocket, opts: { logger: Logger; pingIntervalMs: number; onInvalid?: (type: string) => void }) {
    super();
    this.#ws = ws;
    this.#logger = opts.logger;
    this.#onInvalid = opts.onInvalid;
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void this.#onInvalid?.('binary');
      this.#onMessage(data.toString());
    });
    ws.on('close', () => this.#onClose());
    ws.on('error', (err) => this.#logger.warn({ err: err.message }, 'ARI websocket from Asterisk: error'));
    this.#keepAlive(opts.pingIntervalMs);
  }

  /** The app this connection serves; null until its first message. */
  get app(): string | null {
    return this.#app;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(req: AriRestRequest, opts: { signal: AbortSignal; raw: boolean }): Promise<AriRestResponse> {
    if (this.#closed) return Promise.reject(new Error('the ARI websocket from Asterisk is closed'));
    opts.signal.throwIfAborted();
    const id = randomUUID();
    const query = req.query.toString();
    // the uri is relative to /ari (a leading slash would not route), the body a JSON string (FACTS §1c)
    const message = {
      type: 'RESTRequest',
      transaction_id: id,
      request_id: id,
      method: req.method,
      uri: `${req.path.replace(/^\/+/, '')}${query ? `?${query}` : ''}`,
      ...(req.body !== undefined ? { content_type: 'application/json', message_body: req.body } : {}),
    };
    return new Promise<AriRestResponse>((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(id);
        reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
      };
      opts.signal.addEventListener('abort', onAbort, { once: true });
      const done = () => opts.signal.removeEventListener('abort', onAbort);
      this.#pending.set(id, {
        resolve: (res) => {
          done();
          resolve(res);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.#ws.send(JSON.stringify(message));
    });
  }

  close(): void {
    if (!this.#closed) this.#ws.close(1000);
  }

  #onMessage(text: string): void {
    let type = '';
    let application: unknown;
    try {
      const json = JSON.parse(text) as { type?: unknown; application?: unknown };
      type = typeof json.type === 'string' ? json.type : '';
      application = json.application;
      if (type === 'RESTResponse') return this.#onResponse(json as RestResponseMessage);
    } catch {
      return void this.#onInvalid?.('not-json');
    }
    if (this.#app === null && typeof application === 'string' && application) {
      this.#app = application;
      this.emit('app', application);
    }
    const parsed = parseAriMessage(text, this.#logger, this.#onInvalid);
    if (parsed && parsed.type !== 'ApplicationReplaced') this.emit('event', parsed);
  }

  #onResponse(msg: RestResponseMessage): void {
    const pending = this.#pending.get(msg.request_id ?? '');
    if (!pending) return void this.#onInvalid?.('RESTResponse');
    this.#pending.delete(msg.request_id ?? '');
    pending.resolve({
      status: typeof msg.status_code === 'number' ? msg.status_code : 0,
      statusText: msg.reason_phrase ?? '',
      text: msg.message_body ?? '',
    });
  }

  #keepAlive(intervalMs: number): void {
    let awaitingPong = false;
    this.#ws.on('pong', () => (awaitingPong = false));
    const ping = () => {
      if (awaitingPong) {
        this.#logger.warn({ afterMs: intervalMs }, 'ARI websocket from Asterisk missed a pong: closing it');
        this.#ws.terminate();
        return;
      }
      awaitingPong = true;
      this.#ws.ping();
      this.#pingTimer = setTimeout(ping, intervalMs);
    };
    this.#pingTimer = setTimeout(ping, intervalMs);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    for (const p of this.#pending.values()) p.reject(new Error('the ARI websocket from Asterisk closed'));
    this.#pending.clear();
    this.emit('close');
    this.removeAllListeners();
  }
}

/**
 * The transport for requests that belong to no single call (outbound calls, resync, release retries) when
 * Asterisk connects to the bot: the persistent connection when there is one.
 */
export class PersistentAriTransport implements AriTransport {
  current: ServedAriConnection | null = null;

  send(req: AriRestRequest, opts: { signal: AbortSignal; raw: boolean }): Promise<AriRestResponse> {
    if (!this.current || this.current.closed) {
      return Promise.reject(new Error('no persistent ARI websocket from Asterisk (per-call connections only)'));
    }
    return this.current.send(req, opts);
  }
}
