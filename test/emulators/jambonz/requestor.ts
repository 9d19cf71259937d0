import { once } from 'node:events';
import WebSocket from 'ws';

/** jambonz refuses WS API frames over 24 KiB (ws maxPayload; close 1009) and then reconnects. */
const WS_API_MAX_PAYLOAD = 24 * 1024;
/** lib/config.js MAX_RECONNECTS: connections per call, the first included */
const MAX_CONNECTIONS = 5;
/** ws-requestor.js backoffMs: the first reconnect waits this long, then 1 s, 2 s, 4 s, 6 s … */
const FIRST_BACKOFF_MS = 500;
/** the errors lib/utils/base-requestor.js `_shouldRetry` counts as `ct` (the default retry policy) */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'ECONNABORTED']);

export interface WsRequestorOptions {
  /** the application's WS API URL; every reconnect goes to the same URL (so a balancer picks again) */
  url: string;
  subprotocol: string;
  auth?: { username: string; password: string } | undefined;
  ackTimeoutMs: number;
  /** a `command` message from the app */
  onCommand(msg: { command?: string; data?: unknown; queueCommand?: boolean }): void;
  /** a reconnect's session:reconnect was acked */
  onReconnected(): void;
  /** session:reconnect was not acked in time: jambonz hangs the call up (call-session.js _onSessionReconnectError) */
  onReconnectError(message: string): void;
  /** a connection attempt that failed, for the test to see */
  onError(message: string): void;
}

interface InFlight {
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The WebSocket API side of one call, as lib/utils/ws-requestor.js runs it. The socket is opened by the first
 * message. When it closes with anything but 1000, the call's running verbs go on untouched and jambonz reconnects
 * to the same URL after a backoff (500 ms, then 1 s, 2 s, 4 s, …; one attempt each, while fewer than 5 connections
 * were made) and sends `session:reconnect` carrying the session:new data; the ack's verbs are ignored, and messages
 * that come up meanwhile wait for that ack (an un-acked reconnect hangs the call up). A message with no socket and
 * no reconnect under way connects at once, retrying refused or reset connections with the same backoff. Messages in
 * flight when the socket drops are failed. A close with 1000 from the app means "stop sending": nothing more is sent.
 */
export class WsRequestor {
  /** sockets opened so far (ws-requestor.js `connections`) */
  connections = 0;
  closedGracefully = false;
  readonly #o: WsRequestorOptions;
  readonly #callSid: string;
  #ws: WebSocket | null = null;
  #connecting: Promise<void> | null = null;
  #backoffMs = FIRST_BACKOFF_MS;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #sessionData: unknown;
  #msgid = 0;
  readonly #inFlight = new Map<string, InFlight>();
  #stopped = false;

  constructor(callSid: string, opts: WsRequestorOptions) {
    this.#callSid = callSid;
    this.#o = opts;
  }

  get socket(): WebSocket | null {
    return this.#ws;
  }

  /** A message that needs an ack; resolves with the ack's `data`. Discarded (undefined) after a 1000 close. */
  async request(message: Record<string, unknown>): Promise<unknown> {
    if (this.closedGracefully || this.#stopped) return undefined;
    if (message.type === 'session:new') this.#sessionData = message.data;
    await this.#ready();
    return this.#send(message);
  }

  /**
   * call:status and the like: no ack. Sent at once on an open socket. While a connection is under way it waits in
   * jambonz's queue, which only a later send flushes (a `close()` meanwhile loses it). With no socket and none under
   * way the message connects one itself, and goes out over it even when the call ended meanwhile: ws-requestor.js
   * `request()` checks `closedGracefully` only on entry; the `session:reconnect` its `_connect` asks for on the new
   * socket is the one discarded then, and nobody closes that socket.
   */
  async notify(message: Record<string, unknown>): Promise<void> {
    if (this.closedGracefully || this.#stopped) return;
    const send = () => {
      if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
    };
    if (this.#ws && !this.#connecting) return send();
    if (this.#connecting) {
      await this.#connecting;
      if (!this.closedGracefully) send();
      return;
    }
    await this.#ready();
    send();
  }

  /** The call ended: close with 1000. */
  close(): void {
    this.closedGracefully = true;
    this.#shutdown((ws) => ws.close(1000));
  }

  /** Network loss: the socket dies, nothing more is sent or reconnected. */
  terminate(): void {
    this.#stopped = true;
    this.#shutdown((ws) => ws.terminate());
  }

  /** The socket dies under jambonz (network, the app's process): the usual reconnect follows. */
  drop(): void {
    this.#ws?.terminate();
  }

  #shutdown(end: (ws: WebSocket) => void): void {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) end(ws);
    this.#failInFlight('socket closed');
  }

  async #ready(): Promise<void> {
    if (this.#ws && !this.#connecting) return;
    this.#connecting ??= this.#connect(true).finally(() => (this.#connecting = null));
    await this.#connecting;
  }

  /** Open a socket (retrying connect errors when asked), then, on a reconnect, send session:reconnect and await its ack. */
  async #connect(retry: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#open();
        break;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (!retry || attempt >= MAX_CONNECTIONS || !CONNECT_ERRORS.has(code) || this.#stopped) throw err;
        await new Promise((resolve) => setTimeout(resolve, this.#nextBackoff()));
      }
    }
    // after close() (the call ended while connecting) ws-requestor.js discards the session:reconnect
    if (this.connections <= 1 || this.closedGracefully) return;
    try {
      // the ack's verbs are ignored (ws-requestor.js _connect: `this.request('session:reconnect', this.url)`)
      await this.#send({ type: 'session:reconnect', call_sid: this.#callSid, data: this.#sessionData });
    } catch (err) {
      this.#o.onReconnectError((err as Error).message);
      throw err;
    }
    this.#o.onReconnected();
  }

  #nextBackoff(): number {
    const delay = this.#backoffMs;
    this.#backoffMs = delay < 2000 ? delay * 2 : delay + 2000;
    return delay;
  }

  async #open(): Promise<void> {
    const auth = this.#o.auth;
    const socket = new WebSocket(this.#o.url, [this.#o.subprotocol], {
      handshakeTimeout: 1500,
      maxPayload: WS_API_MAX_PAYLOAD,
      headers: auth
        ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
        : {},
    });
    const failed = new Promise<never>((_, reject) => {
      socket.once('error', reject);
      socket.once('unexpected-response', () => reject(new Error('WS API upgrade refused')));
    });
    socket.on('error', () => {});
    try {
      await Promise.race([once(socket, 'open'), failed]);
    } catch (err) {
      socket.terminate();
      throw err;
    }
    // jambonz drops the connection unless the server echoes the subprotocol.
    if (socket.protocol !== this.#o.subprotocol) {
      socket.terminate();
      throw new Error('server did not echo the WS API subprotocol');
    }
    if (this.#stopped) {
      socket.terminate();
      throw new Error('call over');
    }
    this.#ws = socket;
    this.connections++;
    socket.on('message', (data: Buffer) => this.#onMessage(data));
    socket.once('close', (code: number) => this.#onClose(socket, code));
  }

  #onClose(socket: WebSocket, code: number): void {
    if (this.#ws !== socket) return;
    this.#ws = null;
    if (code === 1000) {
      this.closedGracefully = true;
      this.#failInFlight('socket closed by the app');
      return;
    }
    this.#failInFlight('socket closed unexpectedly');
    if (this.connections >= MAX_CONNECTIONS || this.closedGracefully || this.#stopped) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#ws || this.#connecting || this.#stopped || this.closedGracefully) return;
      // one attempt: a failure here waits for the next message to connect (with retries)
      this.#connecting = this.#connect(false)
        .catch((err: Error) => this.#o.onError(`reconnect failed: ${err.message}`))
        .finally(() => (this.#connecting = null));
    }, this.#nextBackoff());
  }

  #onMessage(data: Buffer): void {
    let msg: { type?: string; msgid?: string; command?: string; data?: unknown; queueCommand?: boolean };
    try {
      msg = JSON.parse(data.toString('utf8')) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'ack' && msg.msgid) {
      const pending = this.#inFlight.get(msg.msgid);
      this.#inFlight.delete(msg.msgid);
      if (pending) {
        clearTimeout(pending.timer);
        pending.resolve(msg.data);
      }
      return;
    }
    if (msg.type === 'command') this.#o.onCommand(msg);
  }

  #send(message: Record<string, unknown>): Promise<unknown> {
    const socket = this.#ws;
    if (!socket || socket.readyState !== WebSocket.OPEN) return Promise.reject(new Error('no WS API connection'));
    const msgid = `m${++this.#msgid}`;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#inFlight.delete(msgid);
        reject(new Error(`no ack for ${String(message.type)} within ${this.#o.ackTimeoutMs} ms`));
      }, this.#o.ackTimeoutMs);
      this.#inFlight.set(msgid, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...message, msgid }));
    });
  }

  #failInFlight(why: string): void {
    for (const [msgid, pending] of this.#inFlight) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`abandoning msgid ${msgid}: ${why}`));
    }
    this.#inFlight.clear();
  }
}
