import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  bridgeJson,
  CAUSE_TXT,
  channelJson,
  type EmuBridge,
  type EmuChannel,
  type EndpointBehaviour,
  type InviteIdentity,
} from './model.js';
import { Party } from './party.js';
import { UnicastRtpEndpoint } from './unicast-rtp.js';
import type { NetworkImpairment } from './impairment.js';
import { SoftMixer, type MixerMember } from './mixer.js';
import { ulawDecode, ulawEncode, writePcmWav } from './wire.js';
import { connectWithAttempts, parseRestRequest, restResponse, type OutboundWebsocketConfig } from './outbound.js';

export interface AriEmulatorOptions {
  username?: string;
  password?: string;
  /** default app name for placed calls (the dialplan's Stasis(app)) */
  app?: string;
  host?: string;
  /** delay between a channel-creating reply and its StasisStart (the "reply first" quirk), ms */
  stasisDelayMs?: number;
  /** how dialled endpoints behave; unknown endpoints answer after 50 ms */
  endpoints?: Record<string, EndpointBehaviour>;
  /** how long a /play keeps the channel out of its bridge, ms */
  playMs?: number;
  /** network impairment on every UnicastRTP leg towards the app (loss, reordering, duplicates, jitter) */
  network?: NetworkImpairment | null;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  at: number;
  /** how the request came: HTTP, or a RESTRequest over an outbound websocket */
  via: 'http' | 'websocket';
  /** the outbound websocket it came over (index into `outboundConnections`) */
  connection?: number;
}

/** A per-call websocket could not be opened: Asterisk marks the channel failed and it continues in the dialplan. */
export class StasisFailed extends Error {
  constructor(readonly channelName: string) {
    super(`per-call ARI websocket for ${channelName} failed: the channel continues in the dialplan after Stasis()`);
  }
}

export class CallRejected extends Error {
  constructor(readonly sipStatus: number) {
    super(`call rejected: SIP ${sipStatus}`);
  }
}

export interface PlaceCallOptions {
  from?: string;
  to?: string;
  app?: string;
  callerName?: string;
  /** stream silence whenever the caller is not sending audio, 50 packets a second like a real phone (default true) */
  continuous?: boolean;
  /**
   * per_call_config: runs once the call's websocket is up, before its StasisStart goes out (a test's moment between
   * the upgrade and the first event, e.g. a drain beginning there)
   */
  onConnected?: () => void | Promise<void>;
}

interface EmulatorEvents {
  /** a dialled channel (agent or outbound callee) was created */
  party: [party: Party, endpoint: string];
  request: [req: LoggedRequest];
  /** every ARI event the emulator publishes (delivered or lost) */
  event: [ev: Record<string, unknown>];
}

/**
 * DELETE /channels/{id}?reason=: the names Asterisk 22 accepts (res/ari/resource_channels.c) with their cause, and
 * the final response chan_pjsip sends an INVITE that was never answered (hangup_cause2sip). Any other reason is 400.
 */
const HANGUP_REASONS: Record<string, { cause: number; sip: number }> = {
  normal: { cause: 16, sip: 603 },
  busy: { cause: 17, sip: 486 },
  congestion: { cause: 34, sip: 503 },
  no_answer: { cause: 19, sip: 480 },
  rejected: { cause: 21, sip: 403 },
  unallocated: { cause: 1, sip: 404 },
  normal_unspecified: { cause: 31, sip: 480 },
  number_incomplete: { cause: 28, sip: 484 },
};

export interface AppHangup {
  channelId: string;
  reason: string;
  cause: number;
  /** the SIP final response the caller got, when the channel had not been answered */
  sipStatus: number | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An in-process Asterisk 22 as far as ARI + externalMedia go, with the quirks listed in FACTS §1:
 * externalMedia replies before its StasisStart (early addChannel → 422), StasisStart for every channel in the
 * app, strict RTP, no audio to the caller until the app sends, /play takes the channel out of the bridge,
 * events lost while the websocket is down, 603 when no app is connected.
 */
export class AriEmulator extends EventEmitter<EmulatorEvents> {
  readonly channels = new Map<string, EmuChannel>();
  readonly bridges = new Map<string, EmuBridge>();
  readonly stored = new Map<string, Buffer>();
  readonly requests: LoggedRequest[] = [];
  /** events that had no connected app to go to */
  lostEvents = 0;
  /** every DELETE /channels/{id} the app made, with what the caller saw */
  readonly appHangups: AppHangup[] = [];
  /** REST requests dropped while refuseRest(true) */
  restRefused = 0;
  /** every UnicastRTP endpoint ever opened (for leak checks) */
  readonly mediaEndpoints: UnicastRtpEndpoint[] = [];
  readonly #sockets = new Map<WebSocket, string>();
  /** sockets that still exist but get nothing: replaced by a newer registration of their app */
  readonly #silenced = new Set<WebSocket>();
  /** half-open sockets: Asterisk still counts the app as registered, but nothing reaches it */
  readonly #deaf = new Set<WebSocket>();
  readonly #tcp = new Map<WebSocket, Duplex>();
  /** every event websocket upgrade: the URL asked for and whether credentials came in a header */
  readonly upgrades: Array<{ url: string; authorizationHeader: boolean }> = [];
  readonly #wss = new WebSocketServer({ noServer: true });
  /** websocket_client.conf + ari.conf outbound_websocket, when configured */
  #outbound: OutboundWebsocketConfig | null = null;
  /** per-call sessions closed STASIS_END_POST_WAIT after their caller left Stasis (no reconnect for those), by app */
  readonly #perCallClosed = new Set<string>();
  /** outbound sessions between a dropped socket and its reconnect: the events queued for the next socket, by app */
  readonly #reconnecting = new Map<string, string[]>();
  /** every outbound websocket Asterisk opened: the app it serves, and whether it was a reconnect */
  readonly outboundConnections: Array<{ app: string; reconnect: boolean }> = [];
  readonly #opts: Required<Omit<AriEmulatorOptions, 'endpoints' | 'network'>> & {
    endpoints: Record<string, EndpointBehaviour>;
    network: NetworkImpairment | null;
  };
  readonly #server: Server;
  readonly #timers = new Set<NodeJS.Timeout>();
  #accepting = true;
  /** REST side down while the event socket stays up (Asterisk's HTTP server stuck or restarting) */
  #restDown = false;
  #withhold: ((req: LoggedRequest) => boolean) | null = null;
  #nextId = 1;
  #closed = false;
  url = '';

  constructor(opts: AriEmulatorOptions = {}) {
    super();
    this.#opts = {
      username: 'asterisk',
      password: 'asterisk-secret',
      app: 'voicebot',
      host: '127.0.0.1',
      stasisDelayMs: 15,
      endpoints: {},
      playMs: 400,
      network: null,
      ...opts,
    };
    this.#server = createServer((req, res) => {
      this.#handleHttp(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(JSON.stringify({ message: String(err) }));
      });
    });
    this.#server.on('upgrade', (req, socket, head) => this.#handleUpgrade(req, socket, head));
  }

  get username(): string {
    return this.#opts.username;
  }
  get password(): string {
    return this.#opts.password;
  }
  get host(): string {
    return this.#opts.host;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, this.#opts.host, resolve));
    const addr = this.#server.address();
    if (!addr || typeof addr === 'string') throw new Error('emulator: no address');
    this.url = `http://${this.#opts.host}:${addr.port}`;
  }

  setEndpoint(endpoint: string, behaviour: EndpointBehaviour): void {
    this.#opts.endpoints[endpoint] = behaviour;
  }

  /** The `telephony.asterisk` config keys that point the bot at this emulator. */
  ariConfig(app = this.#opts.app): { url: string; username: string; password: string; app: string } {
    return { url: this.url, username: this.#opts.username, password: this.#opts.password, app };
  }

  /** Apps with an open event websocket that gets their events. */
  connectedApps(): string[] {
    return [...new Set([...this.#sockets].filter(([ws]) => !this.#silenced.has(ws)).map(([, app]) => app))];
  }

  /**
   * A half-open connection (a NAT or firewall dropped it silently): the socket stays open on the app's side but
   * nothing gets through any more, neither events nor pongs. Asterisk never pings, so only the app can notice.
   */
  deafenWebsockets(): void {
    for (const ws of this.#sockets.keys()) {
      this.#deaf.add(ws);
      this.#tcp.get(ws)?.pause();
    }
  }

  /** Drop every event websocket (events are lost until the app reconnects). With `refuseMs`, refuse reconnects for that long. */
  dropWebsockets(refuseMs = 0): void {
    if (refuseMs > 0) {
      this.#accepting = false;
      this.#later(refuseMs, () => {
        this.#accepting = true;
      });
    }
    for (const ws of this.#sockets.keys()) ws.terminate();
    this.#sockets.clear();
    this.#silenced.clear();
    this.#deaf.clear();
  }

  /**
   * Asterisk's HTTP side stops answering while the event websocket stays open (seen on a real Asterisk): every
   * REST request has its connection dropped with no response, as a client sees a refused or reset connection.
   */
  refuseRest(on: boolean): void {
    this.#restDown = on;
  }

  /**
   * Requests for which `predicate` holds are carried out but never answered over their outbound websocket, as when
   * the per-call socket closes (STASIS_END_POST_WAIT after the caller left) before the answer goes out, or the
   * answer is slow to come on a loaded box. null: answer everything again.
   */
  withholdAnswers(predicate: ((req: LoggedRequest) => boolean) | null): void {
    this.#withhold = predicate;
  }

  /** Asterisk-side: a channel goes away (e.g. `channel request hangup` on the CLI), with its events. */
  hangupChannel(id: string): void {
    const ch = this.channels.get(id);
    if (ch) this.#hangup(ch, 'far-end', { cause: 16 });
  }

  /** Asterisk-side: a bridge goes away (its members stay up, out of any bridge). */
  destroyBridge(id: string): void {
    const b = this.bridges.get(id);
    if (!b) return;
    this.#finishRecording(b);
    b.mixer.stop();
    for (const cid of b.channels) {
      const ch = this.channels.get(cid);
      if (ch) ch.bridgeId = null;
    }
    this.bridges.delete(b.id);
    this.#emit(this.#opts.app, { type: 'BridgeDestroyed', bridge: bridgeJson(b) });
  }

  /** A SIP caller reaches `exten => X,1,Stasis(app)`. Rejects with CallRejected(603) if no app is connected. */
  async placeCall(opts: PlaceCallOptions = {}): Promise<Party> {
    let app = opts.app ?? this.#opts.app;
    const perCall =
      !this.connectedApps().includes(app) &&
      this.#outbound?.connectionType === 'per_call_config' &&
      (this.#outbound.app ?? this.#opts.app) === app
        ? this.#outbound
        : null;
    if (!this.connectedApps().includes(app) && !perCall) throw new CallRejected(603);
    const id = `${Date.now() / 1000}.${this.#nextId++}`;
    const name = `PJSIP/softphone-${String(this.#nextId).padStart(8, '0')}`;
    if (perCall) {
      // ast_ari_create_per_call_websocket(): one socket for this call, the app id "<app>:<channel name>"
      app = `${app}:${name}`;
      const ws = await connectWithAttempts(perCall, perCall.reconnectAttempts ?? 4);
      if (!ws) throw new StasisFailed(name);
      this.#attachOutbound(ws, app, perCall, false);
      await opts.onConnected?.();
    }
    const ch = this.#newChannel(id, 'caller', name, app);
    ch.state = 'Ring';
    ch.caller = { name: opts.callerName ?? '', number: opts.from ?? '1001' };
    ch.dialplan = { context: 'from-phones', exten: opts.to ?? '100', priority: 1, app_name: 'Stasis', app_data: app };
    ch.inStasis = true;
    const party = this.#attachParty(ch, 'caller');
    this.#emit(app, { type: 'StasisStart', args: [], channel: channelJson(ch) });
    if (opts.continuous ?? true) party.streamIdleSilence();
    return party;
  }

  /** Resolves when `predicate` holds, checked after every request and event; rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`emulator: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  requestsTo(method: string, pathRe: RegExp): LoggedRequest[] {
    return this.requests.filter((r) => r.method === method && pathRe.test(r.path));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const b of this.bridges.values()) b.mixer.stop();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const ch of [...this.channels.values()]) {
      ch.media?.close();
      ch.party?.end('emulator closed');
    }
    for (const ws of this.#sockets.keys()) ws.terminate();
    for (const tcp of this.#tcp.values()) tcp.destroy();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- outbound websockets (FACTS §1c)

  /**
   * Configure websocket_client.conf + ari.conf `type=outbound_websocket`. persistent: Asterisk connects now (resolves
   * once connected) and reconnects every `reconnect_interval` after a drop. per_call_config: a call to the app opens
   * its own socket (see placeCall).
   */
  async outboundWebsocket(cfg: OutboundWebsocketConfig): Promise<void> {
    this.#outbound = cfg;
    if (cfg.connectionType !== 'persistent') return;
    const ws = await connectWithAttempts(cfg, 1_000);
    if (!ws) throw new Error('emulator: persistent outbound websocket never connected');
    this.#attachOutbound(ws, cfg.app ?? this.#opts.app, cfg, false);
  }

  /** Outbound sockets open now (persistent and per call). */
  get outboundOpen(): number {
    return [...this.#sockets.keys()].filter((ws) => this.#outboundSockets.has(ws)).length;
  }

  readonly #outboundSockets = new Set<WebSocket>();

  /**
   * An outbound socket serves `app`: ApplicationRegistered first, events for the app, and RESTRequests answered
   * with RESTResponses. A drop reconnects: persistent forever, per call while the channel is in Stasis (after the
   * attempts the channel leaves Stasis and continues in the dialplan).
   */
  #attachOutbound(ws: WebSocket, app: string, cfg: OutboundWebsocketConfig, reconnect: boolean): void {
    const connection = this.outboundConnections.push({ app, reconnect }) - 1;
    this.#sockets.set(ws, app);
    this.#outboundSockets.add(ws);
    // session_update(): first what was queued while the socket was down, then (on a reconnect only; the first
    // connection got it from session_register_apps) ApplicationRegistered. No StasisStart again for channels already
    // in Stasis: the new connection just gets the app's events from here on.
    const queued = this.#reconnecting.get(app) ?? [];
    this.#reconnecting.delete(app);
    for (const text of queued) ws.send(text);
    ws.send(JSON.stringify({ type: 'ApplicationRegistered', application: app, timestamp: new Date().toISOString() }));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) void this.#onRestRequest(ws, connection, data.toString());
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.#sockets.delete(ws);
      this.#outboundSockets.delete(ws);
      if (this.#perCallClosed.has(app) || this.#closed || this.#outbound !== cfg) return;
      const caller = [...this.channels.values()].find((c) => c.kind === 'caller' && c.app === app);
      // outbound_session_handler_thread(): "Websocket disconnected. Reconnecting" at once, to the same uri, until the
      // session is closing (a per-call one: STASIS_END_POST_WAIT after its caller left Stasis, even if it already
      // has); the session keeps its apps registered and queues their events until a socket is back
      this.#reconnecting.set(app, []);
      void (async () => {
        const attempts = cfg.connectionType === 'persistent' ? 1_000 : (cfg.reconnectAttempts ?? 4);
        const again = await connectWithAttempts(cfg, attempts);
        if (this.#closed) return void again?.terminate();
        if (again && this.#perCallClosed.has(app)) return void again.close(1000);
        if (again) return this.#attachOutbound(again, app, cfg, true);
        this.#reconnecting.delete(app);
        // stasis_app_control_mark_failed() + continue to the next priority: STASISSTATUS=FAILED, never a hangup
        if (caller?.inStasis && this.channels.has(caller.id))
          this.#continueInDialplan(caller, { ...caller.dialplan, priority: caller.dialplan.priority + 1 });
      })();
    });
  }

  /** ari_websocket_process_request(): parse, invoke the same handlers as HTTP, answer on the same socket. */
  async #onRestRequest(ws: WebSocket, connection: number, text: string): Promise<void> {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // session_read() drops a frame that is not JSON
    }
    const req = parseRestRequest(msg);
    if (!req.ok) return void ws.send(restResponse(req, req.status, { message: req.message }, req.reason));
    let status: number;
    let payload: unknown;
    try {
      const out = await this.#dispatch(req.method, `/ari/${req.path}`, req.query, req.body);
      // send_rest_response(): a file reply cannot go over the websocket
      if (Buffer.isBuffer(out)) [status, payload] = [406, undefined];
      else [status, payload] = [out === undefined ? 204 : 200, out];
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      [status, payload] = [err.status, { message: err.message }];
    }
    const entry: LoggedRequest = {
      method: req.method,
      path: `/ari/${req.path}`,
      query: Object.fromEntries(req.query),
      body: req.body,
      status,
      at: performance.now(),
      via: 'websocket',
      connection,
    };
    this.requests.push(entry);
    this.emit('request', entry);
    if (this.#withhold?.(entry)) return;
    if (ws.readyState === ws.OPEN) ws.send(restResponse(req, status, payload));
  }

  // ---------------------------------------------------------------- websocket

  #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/ari/events') return void socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
    if (!this.#authorised(req, url)) return void socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
    if (!this.#accepting) return void socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
    const app = url.searchParams.get('app');
    if (!app) return void socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    this.upgrades.push({ url: req.url ?? '', authorizationHeader: Boolean(req.headers.authorization) });
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      // res/stasis/app.c: a second registration of the app takes its events; the old socket is told once and
      // left open, getting nothing more
      for (const [old, oldApp] of this.#sockets) {
        if (oldApp !== app || this.#silenced.has(old)) continue;
        old.send(
          JSON.stringify({ type: 'ApplicationReplaced', application: app, timestamp: new Date().toISOString() }),
        );
        this.#silenced.add(old);
      }
      this.#sockets.set(ws, app);
      this.#tcp.set(ws, socket);
      const gone = () => {
        this.#sockets.delete(ws);
        this.#silenced.delete(ws);
        this.#deaf.delete(ws);
        this.#tcp.delete(ws);
      };
      ws.on('close', gone);
      ws.on('error', gone);
    });
  }

  #emit(app: string, event: Record<string, unknown>): void {
    this.emit('event', event);
    const text = JSON.stringify({
      ...event,
      timestamp: new Date().toISOString(),
      application: app,
      asterisk_id: 'emu',
    });
    let delivered = false;
    for (const [ws, wsApp] of this.#sockets) {
      if (wsApp !== app || ws.readyState !== ws.OPEN || this.#silenced.has(ws) || this.#deaf.has(ws)) continue;
      ws.send(text);
      delivered = true;
    }
    const queue = delivered ? undefined : this.#reconnecting.get(app);
    if (queue) queue.push(text);
    else if (!delivered) this.lostEvents++;
  }

  // ---------------------------------------------------------------- channels and media

  #newChannel(id: string, kind: EmuChannel['kind'], name: string, app: string): EmuChannel {
    if (this.channels.has(id)) throw new HttpError(409, 'Channel with given unique ID already exists');
    const ch: EmuChannel = {
      id,
      name,
      kind,
      state: 'Down',
      app,
      caller: { name: '', number: '' },
      connected: { name: '', number: '' },
      dialplan: { context: 'default', exten: 's', priority: 1, app_name: '', app_data: '' },
      creationtime: new Date().toISOString(),
      inStasis: false,
      bridgeId: null,
      playing: null,
    };
    this.channels.set(id, ch);
    return ch;
  }

  #attachParty(ch: EmuChannel, role: Party['role']): Party {
    const party = new Party(ch.id, role, ch.name);
    ch.party = party;
    party.on('frame', (ulaw) => this.#route(ch, ulaw));
    party.on('dtmf', (digit) => {
      if (this.channels.has(ch.id))
        this.#emit(ch.app, { type: 'ChannelDtmfReceived', digit, duration_ms: 100, channel: channelJson(ch) });
    });
    party.on('hangup', () => this.#hangup(ch, 'remote'));
    return party;
  }

  /**
   * Audio from one channel into its bridge (none while it is out playing). An ARI mixing bridge is a smart bridge:
   * with two participants Asterisk uses a 1:1 technology that passes each frame straight to the other side; from
   * three on (an agent joins while the bot stays, or the Announcer that plays music on hold) it switches to softmix,
   * a 20 ms mixer (see SoftMixer).
   */
  #route(from: EmuChannel, ulaw: Buffer): void {
    this.#spy(from, 'in', ulaw);
    if (from.playing || !from.bridgeId) return;
    const bridge = this.bridges.get(from.bridgeId);
    if (!bridge) return;
    if (bridge.mixer.running) return bridge.mixer.feed(from.id, ulaw);
    if (bridge.recording && from.kind !== 'unicastrtp') this.#recordFrame(bridge, ulaw);
    for (const id of bridge.channels) {
      if (id === from.id) continue;
      const to = this.channels.get(id);
      if (to && !to.playing) this.#deliverTo(to, ulaw);
    }
  }

  #deliverTo(to: EmuChannel, ulaw: Buffer): void {
    this.#spy(to, 'out', ulaw);
    if (to.media) to.media.send(ulaw);
    else to.party?.deliver(ulaw);
  }

  /**
   * Snoop channels on `ch` (res/stasis/stasis_app_snoop.c: an audiohook on the channel): spy `in` carries what the
   * channel reads from its party (their voice, wherever the channel is bridged, even while it is out playing),
   * `out` what is written to it; the snoop channel feeds that into its own bridge like any channel.
   */
  #spy(ch: EmuChannel, way: 'in' | 'out', ulaw: Buffer): void {
    for (const snoop of this.channels.values()) {
      if (snoop.spy?.target !== ch.id || (snoop.spy.direction !== way && snoop.spy.direction !== 'both')) continue;
      this.#route(snoop, ulaw);
    }
  }

  /**
   * channels/{id}/snoop as res/ari/resource_channels.c validates it: spy and whisper each none|in|out|both (400
   * otherwise), at least one of them set, `app` required, 404 for an unknown channel; the reply (the Snoop
   * channel) comes before its StasisStart (a thread of its own runs Stasis). The emulator only spies: whisper 400.
   */
  #snoop(target: EmuChannel, q: URLSearchParams): unknown {
    const directions = ['none', 'in', 'out', 'both'];
    const spy = q.get('spy') || 'none';
    const whisper = q.get('whisper') || 'none';
    if (!directions.includes(spy)) throw new HttpError(400, 'Invalid direction specified for spy');
    if (!directions.includes(whisper)) throw new HttpError(400, 'Invalid direction specified for whisper');
    if (spy === 'none' && whisper === 'none')
      throw new HttpError(400, 'Direction must be specified for at least spy or whisper');
    const app = q.get('app');
    if (!app) throw new HttpError(400, 'Application name is required');
    if (whisper !== 'none') throw new HttpError(400, 'emulator: whisper is not supported');
    const id = q.get('snoopId') ?? randomUUID();
    // a duplicate unique id makes the channel allocation fail
    if (this.channels.has(id)) throw new HttpError(500, 'Snoop channel could not be created');
    const hex = (this.#nextId++).toString(16).padStart(8, '0');
    const ch = this.#newChannel(id, 'snoop', `Snoop/${target.id}-${hex}`, app);
    ch.state = 'Up';
    ch.spy = { target: target.id, direction: spy as 'in' | 'out' | 'both' };
    this.#enterStasisLater(ch);
    return channelJson(ch);
  }

  #newBridge(id: string): EmuBridge {
    const b: EmuBridge = {
      id,
      channels: new Set(),
      moh: false,
      recording: null,
      mixer: new SoftMixer(
        () => this.#mixMembers(b),
        (frames) => this.#recordMix(b, frames),
      ),
    };
    return b;
  }

  #mixMembers(b: EmuBridge): MixerMember[] {
    return [...b.channels].flatMap((id) => {
      const ch = this.channels.get(id);
      return ch ? [{ id, muted: ch.playing !== null, deliver: (u: Buffer) => this.#deliverTo(ch, u) }] : [];
    });
  }

  /** A bridge recording hears the people in the bridge (not the bot's own leg, as before the mixer). */
  #recordMix(b: EmuBridge, frames: Map<string, Int16Array>): void {
    if (!b.recording) return;
    const sum = new Int16Array(160);
    for (const [id, f] of frames) {
      if (this.channels.get(id)?.kind === 'unicastrtp') continue;
      for (let i = 0; i < 160; i++) sum[i] = Math.max(-32768, Math.min(32767, sum[i]! + f[i]!));
    }
    this.#recordFrame(b, ulawEncode(sum));
  }

  /** The smart bridge picks its technology by participant count (the Announcer counts while MOH plays). */
  #retech(b: EmuBridge): void {
    b.mixer.moh = b.moh;
    if (b.channels.size + (b.moh ? 1 : 0) >= 3) b.mixer.start();
    else b.mixer.stop();
  }

  #recordFrame(bridge: EmuBridge, ulaw: Buffer): void {
    const rec = bridge.recording!;
    for (const s of ulawDecode(ulaw)) rec.samples.push(s);
    if (rec.samples.length >= rec.maxSamples) this.#finishRecording(bridge);
  }

  #finishRecording(bridge: EmuBridge): void {
    const rec = bridge.recording;
    if (!rec) return;
    bridge.recording = null;
    rec.state = 'done';
    const samples = Int16Array.from(rec.samples.slice(0, rec.maxSamples));
    this.stored.set(rec.name, writePcmWav(samples, 8000));
    const app = this.channels.get([...bridge.channels][0] ?? '')?.app ?? this.#opts.app;
    this.#emit(app, {
      type: 'RecordingFinished',
      recording: {
        name: rec.name,
        format: 'wav',
        state: 'done',
        target_uri: `bridge:${bridge.id}`,
        duration: Math.round(samples.length / 8000),
      },
    });
  }

  #removeFromBridge(ch: EmuChannel): void {
    if (!ch.bridgeId) return;
    const b = this.bridges.get(ch.bridgeId);
    ch.bridgeId = null;
    if (!b) return;
    b.channels.delete(ch.id);
    this.#retech(b);
  }

  /**
   * A channel goes away. `remote`: the caller's own BYE (no useful cause on that leg); `app`: DELETE from the app
   * (16); `far-end`: a dialled leg ended by the far end or the dial timeout, with the Q.850 cause and SIP code
   * chan_pjsip derives (FACTS §1b): ChannelHangupRequest{cause, tech_cause}, StasisEnd, ChannelDestroyed{cause}.
   */
  #hangup(
    ch: EmuChannel,
    by: 'remote' | 'app' | 'far-end',
    cause?: { cause: number; sip?: number },
    partyReason?: string,
  ): void {
    if (!this.channels.has(ch.id)) return;
    if (ch.dialTimer) clearTimeout(ch.dialTimer);
    this.#removeFromBridge(ch);
    const code = by === 'remote' ? 0 : (cause?.cause ?? 16);
    const tech = cause?.sip ? { tech_cause: cause.sip } : {};
    if (by !== 'app')
      this.#emit(ch.app, { type: 'ChannelHangupRequest', cause: code, ...tech, channel: channelJson(ch) });
    this.channels.delete(ch.id);
    ch.state = 'Down';
    if (ch.inStasis) this.#emit(ch.app, { type: 'StasisEnd', channel: channelJson(ch) });
    if (ch.kind === 'caller') this.#closePerCall(ch.app);
    this.#emit(ch.app, {
      type: 'ChannelDestroyed',
      cause: code,
      cause_txt: CAUSE_TXT[code] ?? 'Unknown',
      ...tech,
      channel: channelJson(ch),
    });
    ch.media?.close();
    ch.party?.end(partyReason ?? (by === 'app' ? 'hung up by app' : 'hung up'));
    // the audiohook goes with the channel: its snoop channels read nothing more and hang up
    for (const snoop of [...this.channels.values()])
      if (snoop.spy?.target === ch.id) this.#hangup(snoop, 'far-end', { cause: 16 });
  }

  /** ast_ari_close_per_call_websocket(): the caller left Stasis; its socket closes STASIS_END_POST_WAIT later. */
  #closePerCall(app: string): void {
    const cfg = this.#outbound;
    if (cfg?.connectionType !== 'per_call_config' || !app.includes(':')) return;
    this.#later(cfg.perCallCloseMs ?? 3000, () => {
      this.#perCallClosed.add(app);
      this.#reconnecting.delete(app);
      for (const [ws, wsApp] of this.#sockets) if (wsApp === app && this.#outboundSockets.has(ws)) ws.close(1000);
    });
  }

  #later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  #enterStasisLater(ch: EmuChannel): void {
    this.#later(this.#opts.stasisDelayMs, () => {
      if (!this.channels.has(ch.id)) return;
      ch.inStasis = true;
      this.#emit(ch.app, { type: 'StasisStart', args: [], channel: channelJson(ch) });
    });
  }

  // ---------------------------------------------------------------- REST

  #authorised(req: IncomingMessage, url: URL): boolean {
    const want = `${this.#opts.username}:${this.#opts.password}`;
    if (url.searchParams.get('api_key') === want) return true;
    const auth = req.headers.authorization ?? '';
    return auth.startsWith('Basic ') && Buffer.from(auth.slice(6), 'base64').toString() === want;
  }

  async #handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#restDown) {
      this.restRefused++;
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return this.#reply(req, res, url, undefined, 400, { message: 'Invalid JSON body' });
      }
    }
    if (!this.#authorised(req, url))
      return this.#reply(req, res, url, body, 401, { message: 'Authentication required' });
    try {
      const out = await this.#dispatch(req.method ?? 'GET', url.pathname, url.searchParams, body);
      if (Buffer.isBuffer(out)) {
        this.#log(req, url, body, 200);
        res.writeHead(200, { 'content-type': 'audio/wav' }).end(out);
        return;
      }
      this.#reply(req, res, url, body, out === undefined ? 204 : 200, out);
    } catch (err) {
      if (err instanceof HttpError) return this.#reply(req, res, url, body, err.status, { message: err.message });
      throw err;
    }
  }

  #log(req: IncomingMessage, url: URL, body: unknown, status: number): void {
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      status,
      at: performance.now(),
      via: 'http',
    };
    this.requests.push(entry);
    this.emit('request', entry);
  }

  #reply(req: IncomingMessage, res: ServerResponse, url: URL, body: unknown, status: number, payload: unknown): void {
    this.#log(req, url, body, status);
    if (status === 204) return void res.writeHead(204).end();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }

  #channel(id: string): EmuChannel {
    const ch = this.channels.get(id);
    if (!ch) throw new HttpError(404, 'Channel not found');
    return ch;
  }

  #bridge(id: string): EmuBridge {
    const b = this.bridges.get(id);
    if (!b) throw new HttpError(404, 'Bridge not found');
    return b;
  }

  #dispatch(method: string, path: string, q: URLSearchParams, body: unknown): unknown {
    const m = (re: RegExp) => path.match(re);
    let r: RegExpMatchArray | null;
    const need = (name: string): string => {
      const v = q.get(name);
      if (!v) throw new HttpError(400, `${name}: required parameter is missing`);
      return v;
    };

    if (method === 'GET' && path === '/ari/channels') return [...this.channels.values()].map(channelJson);
    if (method === 'GET' && path === '/ari/bridges') return [...this.bridges.values()].map(bridgeJson);
    if (method === 'GET' && (r = m(/^\/ari\/channels\/([^/]+)$/))) return channelJson(this.#channel(dec(r[1]!)));
    if (method === 'GET' && (r = m(/^\/ari\/applications\/([^/]+)$/))) return this.#application(dec(r[1]!));

    if (method === 'POST' && path === '/ari/channels/externalMedia') return this.#externalMedia(q, need);
    if (method === 'POST' && path === '/ari/channels/create') return this.#create(q, body, need);

    if (method === 'POST' && (r = m(/^\/ari\/channels\/([^/]+)\/answer$/))) {
      const ch = this.#channel(dec(r[1]!));
      if (!ch.inStasis) throw new HttpError(412, 'Channel not in Stasis application');
      if (ch.state !== 'Up') {
        ch.state = 'Up';
        this.#emit(ch.app, { type: 'ChannelStateChange', channel: channelJson(ch) });
      }
      return undefined;
    }
    if (method === 'DELETE' && (r = m(/^\/ari\/channels\/([^/]+)$/))) {
      const ch = this.#channel(dec(r[1]!));
      const reason = q.get('reason') ?? 'normal';
      const known = HANGUP_REASONS[reason];
      if (!known) throw new HttpError(400, 'Invalid reason for hangup provided');
      const sipStatus = ch.state === 'Up' ? null : known.sip;
      this.appHangups.push({ channelId: ch.id, reason, cause: known.cause, sipStatus });
      this.#hangup(ch, 'app', { cause: known.cause }, sipStatus === null ? undefined : `rejected: SIP ${sipStatus}`);
      return undefined;
    }
    if (method === 'POST' && (r = m(/^\/ari\/channels\/([^/]+)\/dial$/))) {
      this.#dial(this.#channel(dec(r[1]!)), Number(q.get('timeout') ?? 0), q.get('caller'));
      return undefined;
    }
    if (method === 'POST' && (r = m(/^\/ari\/channels\/([^/]+)\/snoop$/)))
      return this.#snoop(this.#channel(dec(r[1]!)), q);
    if (method === 'POST' && (r = m(/^\/ari\/channels\/([^/]+)\/continue$/)))
      return this.#continueRequest(dec(r[1]!), q);
    if (method === 'POST' && (r = m(/^\/ari\/channels\/([^/]+)\/play$/)))
      return this.#play(this.#channel(dec(r[1]!)), q);

    if (method === 'POST' && path === '/ari/bridges') {
      const id = q.get('bridgeId') ?? randomUUID();
      if (this.bridges.has(id)) throw new HttpError(409, 'Bridge with this id already exists');
      const type = q.get('type') ?? 'mixing';
      if (!type.split(',').includes('mixing')) throw new HttpError(400, 'emulator supports mixing bridges only');
      const b = this.#newBridge(id);
      this.bridges.set(id, b);
      return bridgeJson(b);
    }
    if (method === 'DELETE' && (r = m(/^\/ari\/bridges\/([^/]+)$/))) {
      this.destroyBridge(this.#bridge(dec(r[1]!)).id);
      return undefined;
    }
    if (method === 'POST' && (r = m(/^\/ari\/bridges\/([^/]+)\/addChannel$/))) {
      const b = this.#bridge(dec(r[1]!));
      for (const id of need('channel').split(',')) {
        const ch = this.channels.get(id);
        if (!ch) throw new HttpError(400, 'Channel not found');
        if (!ch.inStasis) throw new HttpError(422, 'Channel not in Stasis application');
        if (ch.bridgeId && ch.bridgeId !== b.id) this.#removeFromBridge(ch);
        ch.bridgeId = b.id;
        b.channels.add(ch.id);
        this.#retech(b);
      }
      return undefined;
    }
    if (method === 'POST' && (r = m(/^\/ari\/bridges\/([^/]+)\/removeChannel$/))) {
      const b = this.#bridge(dec(r[1]!));
      for (const id of need('channel').split(',')) {
        const ch = this.channels.get(id);
        if (!ch || ch.bridgeId !== b.id) throw new HttpError(422, 'Channel not in this bridge');
        this.#removeFromBridge(ch);
      }
      return undefined;
    }
    if ((r = m(/^\/ari\/bridges\/([^/]+)\/moh$/))) {
      const b = this.#bridge(dec(r[1]!));
      if (method === 'POST') {
        b.moh = true;
        for (const id of b.channels) {
          const p = this.channels.get(id)?.party;
          if (p) p.mohStarted++;
        }
      } else if (method === 'DELETE') b.moh = false;
      this.#retech(b);
      return undefined;
    }
    if (method === 'POST' && (r = m(/^\/ari\/bridges\/([^/]+)\/record$/))) {
      const b = this.#bridge(dec(r[1]!));
      const name = need('name');
      if (q.get('format') !== 'wav') throw new HttpError(422, 'emulator records wav only');
      if (b.recording) throw new HttpError(409, 'Bridge is already recording');
      const max = Number(q.get('maxDurationSeconds') ?? 0);
      b.recording = {
        name,
        bridgeId: b.id,
        maxSamples: max > 0 ? max * 8000 : Infinity,
        samples: [],
        state: 'recording',
      };
      return { name, format: 'wav', state: 'recording', target_uri: `bridge:${b.id}` };
    }
    if (method === 'POST' && (r = m(/^\/ari\/recordings\/live\/([^/]+)\/stop$/))) {
      const name = dec(r[1]!);
      const b = [...this.bridges.values()].find((x) => x.recording?.name === name);
      if (!b) throw new HttpError(404, 'Recording not found');
      this.#finishRecording(b);
      return undefined;
    }
    if (method === 'GET' && (r = m(/^\/ari\/recordings\/stored\/([^/]+)\/file$/))) {
      const wav = this.stored.get(dec(r[1]!));
      if (!wav) throw new HttpError(404, 'Recording not found');
      return wav;
    }
    if (method === 'DELETE' && (r = m(/^\/ari\/recordings\/stored\/([^/]+)$/))) {
      if (!this.stored.delete(dec(r[1]!))) throw new HttpError(404, 'Recording not found');
      return undefined;
    }
    throw new HttpError(404, `emulator: no route ${method} ${path}`);
  }

  /**
   * GET /applications/{name} (res/stasis/app.c app_to_json): the channels the app is subscribed to (in Stasis in it,
   * or created for it) and the bridges its channels are in; 404 for an app nobody registered.
   */
  #application(name: string): unknown {
    const registered =
      [...this.#sockets.values()].includes(name) ||
      this.#reconnecting.has(name) ||
      [...this.channels.values()].some((c) => c.app === name && c.inStasis);
    if (!registered) throw new HttpError(404, 'Application not found');
    const channels = [...this.channels.values()].filter((c) => c.app === name);
    const bridges = new Set(channels.flatMap((c) => (c.bridgeId ? [c.bridgeId] : [])));
    return {
      name,
      channel_ids: channels.map((c) => c.id),
      bridge_ids: [...bridges],
      endpoint_ids: [],
      device_names: [],
    };
  }

  #externalMedia(q: URLSearchParams, need: (n: string) => string): unknown {
    const app = need('app');
    const host = need('external_host');
    const format = need('format');
    if (format !== 'ulaw' && format !== 'slin16')
      throw new HttpError(400, `emulator supports format=ulaw and slin16, not ${format}`);
    if ((q.get('encapsulation') ?? 'rtp') !== 'rtp' || (q.get('transport') ?? 'udp') !== 'udp')
      throw new HttpError(400, 'emulator supports rtp over udp only');
    const [address, portText] = splitHostPort(host);
    const id = q.get('channelId') ?? randomUUID();
    const ch = this.#newChannel(id, 'unicastrtp', `UnicastRTP/${host}-${id.slice(0, 8)}`, app);
    ch.state = 'Up';
    // the socket opens synchronously enough for the reply; bind happens before the reply is written
    return UnicastRtpEndpoint.open(this.#opts.host, { address, port: Number(portText) }, format)
      .then((media) => {
        this.mediaEndpoints.push(media);
        if (this.#opts.network) media.impair(this.#opts.network);
        if (!this.channels.has(id)) return media.close();
        ch.media = media;
        ch.channelvars = {
          UNICASTRTP_LOCAL_ADDRESS: media.local.address,
          UNICASTRTP_LOCAL_PORT: String(media.local.port),
        };
        media.onPayload = (ulaw) => this.#route(ch, ulaw);
      })
      .then(() => {
        this.#enterStasisLater(ch);
        return channelJson(ch);
      });
  }

  /**
   * channels/create as res/ari/resource_channels.c has it: no callerId parameter (unknown query parameters are
   * ignored); caller id only through `variables` (CONNECTEDLINE(...)/CALLERID(...)) or a later dial?caller=. An
   * endpoint that cannot be reached fails the allocation itself (500).
   */
  #create(q: URLSearchParams, body: unknown, need: (n: string) => string): unknown {
    const endpoint = need('endpoint');
    const app = need('app');
    const id = q.get('channelId') ?? randomUUID();
    const vars = (body && typeof body === 'object' && 'variables' in body ? body.variables : undefined) as
      Record<string, string> | undefined;
    if (this.#behaviour(endpoint).answer === 'unavailable') throw new HttpError(500, 'Allocation failed');
    const ch = this.#newChannel(id, 'dialed', `${endpoint}-${String(this.#nextId++).padStart(8, '0')}`, app);
    ch.endpoint = endpoint;
    ch.variables = vars ?? {};
    for (const [name, value] of Object.entries(ch.variables)) {
      const fn = /^(CONNECTEDLINE|CALLERID)\((num|name)\)$/.exec(name);
      if (!fn) continue;
      const party = fn[1] === 'CONNECTEDLINE' ? ch.connected : ch.caller;
      party[fn[2] === 'num' ? 'number' : 'name'] = value;
    }
    const party = this.#attachParty(ch, /agent/i.test(endpoint) ? 'agent' : 'callee');
    this.#enterStasisLater(ch);
    this.emit('party', party, endpoint);
    return channelJson(ch);
  }

  #behaviour(endpoint: string): EndpointBehaviour {
    return this.#opts.endpoints[endpoint] ?? { answer: 'answer', ringMs: 50 };
  }

  /**
   * channels/{id}/dial: 409 until the channel is in Stasis (create returns before that), 409 unless Down. With
   * `caller`, the caller's caller id becomes the callee's connected line, which chan_pjsip puts in the INVITE's
   * From and P-Asserted-Identity; without one the far end sees Anonymous. One Dial with an empty status, RINGING,
   * then ANSWER, or a hangup with a cause (busy, no answer, rejected); the dial timeout hangs up with cause 19 and
   * no Dial event.
   */
  #dial(ch: EmuChannel, timeoutSec: number, callerId: string | null): void {
    if (ch.kind !== 'dialed') throw new HttpError(409, "Channel is not in the 'Down' state");
    if (!ch.inStasis) throw new HttpError(409, 'Channel not in Stasis application');
    if (ch.state !== 'Down') throw new HttpError(409, "Channel is not in the 'Down' state");
    const caller = callerId ? this.channels.get(callerId) : undefined;
    if (caller) ch.connected = { ...caller.caller };
    ch.invite = inviteIdentity(ch.connected);
    if (ch.party) ch.party.invite = ch.invite;
    const behaviour = this.#behaviour(ch.endpoint ?? '');
    const dialEvent = (status: string) =>
      this.#emit(ch.app, { type: 'Dial', dialstatus: status, dialstring: ch.endpoint, peer: channelJson(ch) });
    dialEvent('');
    ch.state = 'Ringing';
    this.#emit(ch.app, { type: 'ChannelStateChange', channel: channelJson(ch) });
    dialEvent('RINGING');
    const timeoutMs = timeoutSec > 0 ? timeoutSec * 1000 : Infinity;
    const ringMs = behaviour.ringMs ?? 50;
    if (behaviour.answer === 'noanswer' && !(ringMs < timeoutMs)) {
      // rings until the ARI dial timeout: Asterisk hangs the leg up, no Dial event
      ch.dialTimer = this.#later(timeoutMs, () => this.#hangup(ch, 'far-end', { cause: 19 }));
      return;
    }
    ch.dialTimer = this.#later(Math.min(ringMs, timeoutMs), () => {
      if (!this.channels.has(ch.id)) return;
      if (ringMs >= timeoutMs) return this.#hangup(ch, 'far-end', { cause: 19 });
      switch (behaviour.answer) {
        case 'answer':
          ch.state = 'Up';
          this.#emit(ch.app, { type: 'ChannelStateChange', channel: channelJson(ch) });
          dialEvent('ANSWER');
          return;
        case 'busy':
          return this.#hangup(ch, 'far-end', { cause: 17, sip: 486 });
        case 'noanswer':
          return this.#hangup(ch, 'far-end', { cause: 19, sip: 480 });
        case 'rejected':
        case 'unavailable':
          return this.#hangup(ch, 'far-end', { cause: 21, sip: 603 });
      }
    });
  }

  /**
   * channels/{id}/continue as res/ari/resource_channels.c has it: 404 unknown channel, 409 not in Stasis, 412 in
   * state Down/Ringing; `context` alone goes to its `s` extension, `extension` alone stays in the current context,
   * none of the three goes to the next priority, a `label` must be numeric here (the emulator has no dialplan to look
   * labels up in: 404, as Asterisk answers a label it cannot find).
   */
  #continueRequest(id: string, q: URLSearchParams): undefined {
    const ch = this.channels.get(id);
    if (!ch) throw new HttpError(404, 'Channel not found');
    if (!ch.inStasis) throw new HttpError(409, 'Channel not in Stasis application');
    if (ch.state === 'Down' || ch.state === 'Ringing') throw new HttpError(412, 'Channel in invalid state');
    const context = q.get('context') || ch.dialplan.context;
    const exten = q.get('extension') || (q.get('context') ? 's' : ch.dialplan.exten);
    const label = q.get('label');
    let priority: number;
    if (label) {
      if (!/^\d+$/.test(label)) throw new HttpError(404, 'Requested label can not be found');
      priority = Number(label);
      if (priority === 0) throw new HttpError(400, 'Requested priority is illegal');
    } else if (Number(q.get('priority') ?? 0) > 0) priority = Number(q.get('priority'));
    else if (!q.get('context') && !q.get('extension')) priority = ch.dialplan.priority + 1;
    else priority = 1;
    this.#continueInDialplan(ch, { ...ch.dialplan, context, exten, priority });
    return undefined;
  }

  /**
   * The channel leaves Stasis (out of its bridge, StasisEnd) and goes on in the dialplan at `where`; the channel
   * stays up. app_stasis returns, so a per-call websocket closes as after a hangup. The party hears of it.
   */
  #continueInDialplan(ch: EmuChannel, where: EmuChannel['dialplan']): void {
    this.#removeFromBridge(ch);
    ch.playing = null;
    ch.inStasis = false;
    this.#emit(ch.app, { type: 'StasisEnd', channel: channelJson(ch) });
    ch.dialplan = { ...where, app_name: '', app_data: '' };
    if (ch.kind === 'caller') this.#closePerCall(ch.app);
    ch.party?.continued({ context: where.context, exten: where.exten, priority: where.priority });
  }

  /** The quirk: /play takes the channel out of its bridge while the sound plays. */
  #play(ch: EmuChannel, q: URLSearchParams): unknown {
    const id = q.get('playbackId') ?? randomUUID();
    const bridgeId = ch.bridgeId;
    this.#removeFromBridge(ch);
    ch.playing = { bridgeId };
    this.#emit(ch.app, { type: 'PlaybackStarted', playback: { id, media_uri: q.get('media'), state: 'playing' } });
    this.#later(this.#opts.playMs, () => {
      ch.playing = null;
      if (bridgeId && this.bridges.has(bridgeId) && this.channels.has(ch.id)) {
        ch.bridgeId = bridgeId;
        this.bridges.get(bridgeId)!.channels.add(ch.id);
        this.#retech(this.bridges.get(bridgeId)!);
      }
      this.#emit(ch.app, { type: 'PlaybackFinished', playback: { id, media_uri: q.get('media'), state: 'done' } });
    });
    return { id, media_uri: q.get('media'), target_uri: `channel:${ch.id}`, state: 'queued' };
  }
}

/** What chan_pjsip puts in the INVITE for a connected line (res_pjsip_caller_id.c, send_pai=yes). */
function inviteIdentity(connected: { name: string; number: string }): InviteIdentity {
  if (!connected.number) return { from: '"Anonymous" <sip:anonymous@anonymous.invalid>', pai: null };
  const id = `${connected.name ? `"${connected.name}" ` : ''}<sip:${connected.number}@asterisk>`;
  return { from: id, pai: id };
}

function dec(s: string): string {
  return decodeURIComponent(s);
}

function splitHostPort(hostPort: string): [string, string] {
  const i = hostPort.lastIndexOf(':');
  if (i <= 0) throw new HttpError(400, 'external_host must be host:port');
  return [hostPort.slice(0, i), hostPort.slice(i + 1)];
}
