import { z } from 'zod';
import {
  ariApplication,
  ariBridge,
  ariChannel,
  ariLiveRecording,
  type AriApplication,
  type AriBridge,
  type AriChannel,
  type AriLiveRecording,
} from './ari-types.js';
import { httpErrorKind, VoicebotError } from '../../core/errors.js';
import { deadline } from '../../core/deadline.js';

/** An ARI request that failed: HTTP status (0 = no answer) and ARI's own message. */
/** An ARI request failed; status 0 means no answer at all. `retryable` follows the status like any HTTP peer. */
export class AriError extends VoicebotError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly ariMessage: string,
  ) {
    super(`ARI ${method} ${path} failed: ${status === 0 ? 'no response' : status} ${ariMessage}`.trim(), {
      kind: httpErrorKind(status),
    });
  }
}

export interface AriClientOptions {
  /**
   * http://host:8088 (without /ari). With a `transport` (the websocket Asterisk opened), only for what cannot travel
   * over it: a stored recording's file (Asterisk answers 406 there, res/ari/ari_websockets.c send_rest_response).
   */
  url?: string;
  username: string;
  password: string;
  app: string;
  requestTimeoutMs: number;
  /** test seam */
  fetch?: typeof fetch;
  /** how requests travel; default: HTTP to `url` */
  transport?: AriTransport;
}

/** One ARI REST request, however it travels: `path` below /ari (e.g. `/channels/ID/answer`), body as JSON text. */
export interface AriRestRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query: URLSearchParams;
  body?: string;
}

export interface AriRestResponse {
  status: number;
  statusText: string;
  /** the body as text (JSON, or an error message) */
  text: string;
  /** the body as bytes, when asked for raw */
  bytes?: Buffer;
}

/**
 * How ARI requests reach Asterisk: HTTP (the bot connects), or RESTRequest messages over the websocket Asterisk
 * opened to the bot (FACTS §1c). Rejects when no answer came (the client turns that into an AriError with status 0).
 */
export interface AriTransport {
  send(req: AriRestRequest, opts: { signal: AbortSignal; raw: boolean }): Promise<AriRestResponse>;
}

/** ARI over HTTP with Basic auth (never `api_key` in the URL: it would end up in access logs). */
export class HttpAriTransport implements AriTransport {
  readonly #base: string;
  readonly #auth: string;
  readonly #fetch: typeof fetch;

  constructor(base: string, auth: string, fetchFn: typeof fetch = fetch) {
    this.#base = base;
    this.#auth = auth;
    this.#fetch = fetchFn;
  }

  async send(req: AriRestRequest, opts: { signal: AbortSignal; raw: boolean }): Promise<AriRestResponse> {
    const url = new URL(`${this.#base}${req.path}`);
    url.search = req.query.toString();
    const res = await this.#fetch(url, {
      method: req.method,
      signal: opts.signal,
      headers: {
        authorization: this.#auth,
        ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(req.body !== undefined ? { body: req.body } : {}),
    });
    if (opts.raw && res.ok)
      return { status: res.status, statusText: res.statusText, text: '', bytes: Buffer.from(await res.arrayBuffer()) };
    return { status: res.status, statusText: res.statusText, text: await res.text().catch(() => '') };
  }
}

type Query = Record<string, string | number | boolean | undefined>;

export interface ExternalMediaParams {
  channelId: string;
  /** host:port Asterisk sends RTP to */
  externalHost: string;
  format: 'ulaw' | 'alaw';
}

export interface CreateChannelParams {
  endpoint: string;
  channelId: string;
  otherChannelId?: string;
  /** channel variables, e.g. PJSIP_HEADER(add,X-Voicebot-Call-Id) */
  variables?: Record<string, string>;
}

export interface RecordParams {
  name: string;
  format: 'wav';
  maxDurationSeconds: number;
  ifExists?: 'fail' | 'overwrite' | 'append';
  beep?: boolean;
}

/**
 * Typed REST client for the few ARI endpoints the bot uses. Every request has a timeout and honours the
 * caller's AbortSignal; replies are validated with zod so a surprise shape fails here, not deep in a call.
 */
export class AriClient {
  readonly #base: string;
  readonly #auth: string;
  readonly #opts: AriClientOptions;
  readonly #transport: AriTransport;
  /** how file downloads travel: HTTP when a url is known (a websocket cannot carry them), else the transport */
  readonly #files: AriTransport;

  constructor(opts: AriClientOptions) {
    this.#opts = opts;
    this.#base = `${(opts.url ?? 'http://ari.invalid').replace(/\/+$/, '')}/ari`;
    this.#auth = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    const http = opts.transport && !opts.url ? null : new HttpAriTransport(this.#base, this.#auth, opts.fetch);
    this.#transport = opts.transport ?? http!;
    this.#files = http ?? this.#transport;
  }

  get app(): string {
    return this.#opts.app;
  }

  /**
   * ws(s)://host/ari/events?app=… . ARI also takes `api_key=user:pass` in the query, but a URL ends up in proxy
   * and access logs: the credentials go in the upgrade's Authorization header instead (`authHeaders`).
   */
  eventsUrl(): string {
    const u = new URL(`${this.#base}/events`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.searchParams.set('app', this.#opts.app);
    u.searchParams.set('subscribeAll', 'false');
    return u.toString();
  }

  /** Basic auth for the event websocket upgrade. */
  authHeaders(): Record<string, string> {
    return { authorization: this.#auth };
  }

  async request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    opts: { query?: Query; body?: unknown; signal?: AbortSignal; raw?: boolean } = {},
  ): Promise<unknown> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const limit = deadline(this.#opts.requestTimeoutMs, opts.signal);
    try {
      let res: AriRestResponse;
      try {
        res = await (opts.raw ? this.#files : this.#transport).send(
          { method, path, query, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) },
          { signal: limit.signal, raw: opts.raw ?? false },
        );
      } catch (err) {
        const why = limit.timedOut ? `timed out after ${this.#opts.requestTimeoutMs} ms` : errorText(err);
        throw new AriError(method, path, 0, why);
      }
      if (res.status < 200 || res.status > 299) {
        throw new AriError(method, path, res.status, ariMessage(res.text) || res.statusText);
      }
      if (opts.raw) return res.bytes ?? Buffer.from(res.text);
      if (res.status === 204 || !res.text) return undefined;
      try {
        return JSON.parse(res.text) as unknown;
      } catch {
        throw new AriError(method, path, res.status, 'reply is not JSON');
      }
    } finally {
      limit.dispose();
    }
  }

  async #typed<T>(
    schema: z.ZodType<T>,
    method: 'GET' | 'POST',
    path: string,
    opts: Parameters<AriClient['request']>[2],
  ): Promise<T> {
    const body = await this.request(method, path, opts);
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new AriError(method, path, 200, `unexpected reply: ${z.prettifyError(parsed.error)}`);
    return parsed.data;
  }

  listChannels(signal?: AbortSignal): Promise<AriChannel[]> {
    return this.#typed(z.array(ariChannel), 'GET', '/channels', { signal });
  }
  listBridges(signal?: AbortSignal): Promise<AriBridge[]> {
    return this.#typed(z.array(ariBridge), 'GET', '/bridges', { signal });
  }
  getChannel(id: string, signal?: AbortSignal): Promise<AriChannel> {
    return this.#typed(ariChannel, 'GET', `/channels/${enc(id)}`, { signal });
  }
  /** The app's channels and bridges: on a reopened per-call websocket, the call it carries (no StasisStart comes again). */
  getApplication(name: string, signal?: AbortSignal): Promise<AriApplication> {
    return this.#typed(ariApplication, 'GET', `/applications/${enc(name)}`, { signal });
  }
  async answer(channelId: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/channels/${enc(channelId)}/answer`, { signal });
  }
  async hangup(channelId: string, reason = 'normal', signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/channels/${enc(channelId)}`, { query: { reason }, signal });
  }
  /** The channel leaves Stasis and goes on in the dialplan at context,extension,priority (the channel stays up). */
  async continueInDialplan(
    channelId: string,
    at: { context: string; extension: string; priority: number },
    signal?: AbortSignal,
  ): Promise<void> {
    await this.request('POST', `/channels/${enc(channelId)}/continue`, { query: { ...at }, signal });
  }
  createBridge(bridgeId: string, signal?: AbortSignal): Promise<AriBridge> {
    return this.#typed(ariBridge, 'POST', '/bridges', { query: { type: 'mixing', bridgeId }, signal });
  }
  async destroyBridge(bridgeId: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/bridges/${enc(bridgeId)}`, { signal });
  }
  async addChannel(bridgeId: string, channelId: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/bridges/${enc(bridgeId)}/addChannel`, { query: { channel: channelId }, signal });
  }
  async removeChannel(bridgeId: string, channelId: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/bridges/${enc(bridgeId)}/removeChannel`, { query: { channel: channelId }, signal });
  }
  async startMoh(bridgeId: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/bridges/${enc(bridgeId)}/moh`, { signal });
  }
  async stopMoh(bridgeId: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/bridges/${enc(bridgeId)}/moh`, { signal });
  }
  externalMedia(p: ExternalMediaParams, signal?: AbortSignal): Promise<AriChannel> {
    return this.#typed(ariChannel, 'POST', '/channels/externalMedia', {
      query: {
        app: this.#opts.app,
        channelId: p.channelId,
        external_host: p.externalHost,
        format: p.format,
        direction: 'both',
        encapsulation: 'rtp',
        transport: 'udp',
      },
      signal,
    });
  }
  /**
   * A Snoop channel on `channelId` that enters Stasis in our app: `spy: 'in'` carries what that channel's party
   * says (what Asterisk reads from it), nothing else; with whisper none nothing reaches them through it.
   */
  snoop(
    channelId: string,
    p: { snoopId: string; spy: 'in' | 'out' | 'both' },
    signal?: AbortSignal,
  ): Promise<AriChannel> {
    return this.#typed(ariChannel, 'POST', `/channels/${enc(channelId)}/snoop`, {
      query: { app: this.#opts.app, spy: p.spy, whisper: 'none', snoopId: p.snoopId },
      signal,
    });
  }
  createChannel(p: CreateChannelParams, signal?: AbortSignal): Promise<AriChannel> {
    return this.#typed(ariChannel, 'POST', '/channels/create', {
      query: {
        endpoint: p.endpoint,
        app: this.#opts.app,
        channelId: p.channelId,
        otherChannelId: p.otherChannelId,
      },
      body: p.variables ? { variables: p.variables } : undefined,
      signal,
    });
  }
  /** `caller`: a channel whose caller id becomes the callee's connected line (what the far end's phone shows). */
  async dial(channelId: string, timeoutSec: number, caller?: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/channels/${enc(channelId)}/dial`, {
      query: { timeout: timeoutSec, caller },
      signal,
    });
  }
  recordBridge(bridgeId: string, p: RecordParams, signal?: AbortSignal): Promise<AriLiveRecording> {
    return this.#typed(ariLiveRecording, 'POST', `/bridges/${enc(bridgeId)}/record`, {
      query: {
        name: p.name,
        format: p.format,
        maxDurationSeconds: p.maxDurationSeconds,
        ifExists: p.ifExists ?? 'overwrite',
        beep: p.beep ?? false,
      },
      signal,
    });
  }
  async stopRecording(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('POST', `/recordings/live/${enc(name)}/stop`, { signal });
  }
  async storedRecordingFile(name: string, signal?: AbortSignal): Promise<Buffer> {
    return (await this.request('GET', `/recordings/stored/${enc(name)}/file`, { signal, raw: true })) as Buffer;
  }
  async deleteStoredRecording(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/recordings/stored/${enc(name)}`, { signal });
  }
}

const enc = encodeURIComponent;

function errorText(err: unknown): string {
  if (err instanceof Error) return (err.cause instanceof Error ? err.cause.message : '') || err.message;
  return String(err);
}

/** ARI errors are JSON {"message": "..."}; fall back to the text. */
function ariMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string')
      return parsed.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

/** True for ARI errors that say the object is already gone (fine during cleanup). */
export function isGone(err: unknown): boolean {
  return err instanceof AriError && (err.status === 404 || err.status === 422);
}
