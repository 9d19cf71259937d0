import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { z } from 'zod';
import { systemClock, type Clock } from '../../core/clock.js';
import { nextEvent } from '../../core/waiters.js';
import type { Logger } from '../../log/logger.js';
import { ariEvent, KNOWN_EVENT_TYPES, type AriEvent } from './ari-types.js';

export interface AriEventStreamOptions {
  url: string;
  /** sent on the upgrade (Authorization: Basic …): credentials never go in the URL */
  headers?: Record<string, string>;
  logger: Logger;
  /**
   * Asterisk never pings the socket, so a half-open TCP connection would go unnoticed: we ping this often and
   * reconnect when the previous ping got no pong (default 5000 ms).
   */
  pingIntervalMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** how long the websocket handshake may take */
  connectTimeoutMs?: number;
  /** counts events that fail validation (they are dropped) */
  onInvalid?: (type: string) => void;
  /** reconnect backoff runs on this clock (tests: a fake one) */
  clock?: Clock;
  /** jitter source in [0, 1) (tests: a fixed value) */
  random?: () => number;
}

export interface AriEventStreamEvents {
  event: [ev: AriEvent];
  /** `reconnect` is true after a drop: local state may be stale, resynchronise. */
  connected: [info: { reconnect: boolean }];
  disconnected: [reason: string];
  /** the upgrade was refused with this HTTP status (401: wrong credentials) */
  refused: [status: number];
  /**
   * Another connection registered the same app: Asterisk moved every event to it and this socket will get
   * nothing more (ApplicationReplaced). The stream stops; it never reconnects on its own.
   */
  replaced: [];
}

/**
 * The ARI event websocket with reconnect and exponential backoff (with jitter). Events are validated at the
 * boundary: unknown types are ignored, malformed known ones are counted and dropped.
 */
export class AriEventStream extends EventEmitter<AriEventStreamEvents> {
  readonly #opts: Required<Omit<AriEventStreamOptions, 'onInvalid' | 'headers'>> &
    Pick<AriEventStreamOptions, 'onInvalid' | 'headers'>;
  readonly #clock: Clock;
  #ws: WebSocket | null = null;
  #stopped = false;
  #everConnected = false;
  #attempt = 0;
  #retryTimer: unknown = null;
  #pingTimer: unknown = null;

  constructor(opts: AriEventStreamOptions) {
    super();
    this.#opts = {
      reconnectMinMs: 250,
      reconnectMaxMs: 10_000,
      connectTimeoutMs: 5000,
      pingIntervalMs: 5000,
      clock: systemClock,
      random: Math.random,
      ...opts,
    };
    this.#clock = this.#opts.clock;
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Resolves once the first connection is open (or rejects on abort/timeout); keeps reconnecting after that. */
  async start(signal?: AbortSignal): Promise<void> {
    this.#stopped = false;
    const first = nextEvent(this, 'connected', { signal });
    first.catch(() => undefined); // awaited below; a synchronous connect failure must not leave it unhandled
    this.#connect();
    await first;
  }

  #connect(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.#opts.url, {
      handshakeTimeout: this.#opts.connectTimeoutMs,
      ...(this.#opts.headers ? { headers: this.#opts.headers } : {}),
    });
    this.#ws = ws;
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      this.emit('refused', res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      this.#attempt = 0;
      this.#keepAlive(ws);
      const reconnect = this.#everConnected;
      this.#everConnected = true;
      // the one hint a user has when callers get 603 and the bot logs nothing: the dialplan must name this app
      const app = new URL(this.#opts.url).searchParams.get('app') ?? '';
      this.#opts.logger.info({ reconnect, app, dialplan: `Stasis(${app})` }, 'ARI events connected');
      this.emit('connected', { reconnect });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.#opts.onInvalid?.('binary');
      this.#handle(data.toString());
    });
    ws.on('error', (err) => {
      this.#opts.logger.warn({ err: err.message }, 'ARI events websocket error');
    });
    ws.on('close', (code) => {
      this.#stopKeepAlive();
      if (this.#ws === ws) this.#ws = null;
      if (this.#stopped) return;
      this.emit('disconnected', `closed (${code})`);
      this.#scheduleReconnect();
    });
  }

  /** Ping on a fixed interval; a ping still unanswered at the next one means the connection is dead. */
  #keepAlive(ws: WebSocket): void {
    this.#stopKeepAlive();
    let awaitingPong = false;
    ws.on('pong', () => (awaitingPong = false));
    const ping = (): void => {
      if (awaitingPong) {
        this.#pingTimer = null;
        this.#opts.logger.warn(
          { afterMs: this.#opts.pingIntervalMs },
          'ARI events websocket missed a pong: reconnecting',
        );
        ws.terminate();
        return;
      }
      awaitingPong = true;
      ws.ping();
      this.#pingTimer = this.#clock.setTimeout(ping, this.#opts.pingIntervalMs);
    };
    this.#pingTimer = this.#clock.setTimeout(ping, this.#opts.pingIntervalMs);
  }

  #stopKeepAlive(): void {
    if (this.#pingTimer !== null) this.#clock.clearTimeout(this.#pingTimer);
    this.#pingTimer = null;
  }

  #scheduleReconnect(): void {
    const { reconnectMinMs, reconnectMaxMs } = this.#opts;
    const delay = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** this.#attempt) * (0.75 + this.#opts.random() * 0.5);
    this.#attempt++;
    this.#opts.logger.warn({ delayMs: Math.round(delay), attempt: this.#attempt }, 'ARI events reconnecting');
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, delay);
  }

  #handle(text: string): void {
    const parsed = parseAriMessage(text, this.#opts.logger, this.#opts.onInvalid);
    if (parsed?.type === 'ApplicationReplaced') {
      this.#opts.logger.error('ARI app taken over by another connection (ApplicationReplaced): this stream stops');
      void this.stop();
      this.emit('replaced');
      return;
    }
    if (parsed) this.emit('event', parsed);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopKeepAlive();
    if (this.#retryTimer !== null) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const ws = this.#ws;
    this.#ws = null;
    if (!ws) return;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    });
  }
}

/**
 * One ARI websocket message, validated at the boundary: `ApplicationReplaced`, a known event, or null (unknown
 * types are ignored; malformed known ones are counted through `onInvalid` and dropped).
 */
export function parseAriMessage(
  text: string,
  logger: Logger,
  onInvalid?: (type: string) => void,
): AriEvent | { type: 'ApplicationReplaced' } | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    onInvalid?.('not-json');
    return null;
  }
  const type = json && typeof json === 'object' && 'type' in json && typeof json.type === 'string' ? json.type : '';
  if (type === 'ApplicationReplaced') return { type };
  if (!KNOWN_EVENT_TYPES.has(type)) return null; // events we do not use
  const parsed = ariEvent.safeParse(json);
  if (!parsed.success) {
    logger.warn({ type, issue: z.prettifyError(parsed.error) }, 'ARI event dropped: bad shape');
    onInvalid?.(type);
    return null;
  }
  return parsed.data;
}
