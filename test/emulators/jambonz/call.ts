import { EventEmitter, once } from 'node:events';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { signWebhook } from '../../../jambonz-adapter/src/signature.js';
import { concatPcm } from '../../../src/media/pcm.js';
import { Resampler } from '../../../src/media/resampler.js';
import { readWavFile } from '../../../src/media/wav.js';
import { Playout, type HeardChunk, type MarkReport } from './playout.js';
import { normalizeVerb, validateVerbs } from './validate.js';
import type { EchoPathOptions } from '../../../src/media/echo-path.js';
import { EchoLine } from '../echo-line.js';
import { WsRequestor } from './requestor.js';
import { resample } from '../../../src/media/resampler.js';

/** How the dialled agent answers. `no-answer` is the ring timeout (simulated at once, not after `timeout` seconds). */
export type DialOutcome = 'answered' | 'busy' | 'no-answer' | 'failed';
/** The last provisional status before a ring timeout: jambonz reports it as dial_call_status (lib/tasks/dial.js). */
export type ProvisionalStatus = 'trying' | 'ringing' | 'early-media';
export interface DialAttempt {
  target: Record<string, unknown>;
  headers: Record<string, string>;
  timeout: unknown;
  outcome: DialOutcome;
  /** the agent leg's call_sid */
  childSid: string;
  /** what the dial's actionHook reported (sent when the dial ended) */
  actionStatus?: string;
}
/** A call:status jambonz sent for an agent (child) leg: on the caller's socket / call_status_hook. */
export interface ChildStatus {
  callSid: string;
  status: string;
  sipStatus: number;
}

export interface CallSettings {
  mode: 'webhook' | 'ws';
  /** the app's base, e.g. http://127.0.0.1:PORT/jambonz (webhooks at /call, /status; WS API at /ws) */
  appUrl: string;
  webhookSecret: string;
  /** sign with another secret, or not at all (null) */
  signWith?: string | null;
  /** seconds added to the signature timestamp (stale signatures) */
  signatureSkewSec?: number;
  wsApiAuth?: { username: string; password: string };
  wsApiSubprotocol?: string;
  audioSubprotocol: string;
  dial: (target: Record<string, unknown>) => DialOutcome;
  /** the last provisional status a ring timeout leaves in the actionHook (default ringing) */
  ringTimeoutStatus?: ProvisionalStatus;
  ackTimeoutMs: number;
  /** behave like a media server without mark support */
  ignoreMarks?: boolean;
  /** stream caller audio at this rate (and say so in the metadata) whatever the listen verb asked */
  streamRate?: number;
  /** the call's codec rate, which sizes the media server's pre-buffer (default 8000: a phone call over G.711) */
  codecRate?: number;
}

export interface CallInfo {
  callSid?: string;
  from: string;
  to: string;
  direction?: 'inbound' | 'outbound';
}

const SIP_STATUS: Record<ProvisionalStatus | 'busy' | 'failed', number> = {
  trying: 100,
  ringing: 180,
  'early-media': 183,
  busy: 486,
  failed: 503,
};
/** mod_audio_fork copies the listen metadata into an 8 KiB buffer. */
const MAX_METADATA_BYTES = 8192;
/** http-requestor.js: anything else is a failed webhook. */
const WEBHOOK_OK = [200, 202, 204];
type Verb = Record<string, unknown>;

/**
 * One call as jambonz would run it: fetch the application's verbs, execute them in order (listen opens the
 * audio socket, dial reports through actionHook), follow redirects, report call status at the end.
 */
export class EmulatedCall extends EventEmitter {
  readonly callSid: string;
  readonly payload: Record<string, unknown>;
  /** every verb array the app returned, in order (each validated with @jambonz/verb-specifications) */
  readonly verbArrays: unknown[][] = [];
  readonly verbErrors: string[] = [];
  readonly dialAttempts: DialAttempt[] = [];
  readonly markReports: MarkReport[] = [];
  readonly commands: string[] = [];
  readonly statusSent: string[] = [];
  /** call:status reports for agent legs, in the order sent */
  readonly childStatusSent: ChildStatus[] = [];
  readonly hookErrors: string[] = [];
  /** the caller is bridged to an agent (dial answered, not yet ended) */
  bridged = false;
  /** performance.now() when the caller was last bridged to an agent (null: never) */
  bridgedAt: number | null = null;
  /** listen sockets opened so far */
  listens = 0;
  ended: string | null = null;
  /** the app answered with sip:decline */
  declined: { status: number; reason: string } | null = null;
  readonly done: Promise<string>;

  readonly #s: CallSettings;
  /** WS API mode: the call's WebSocket API connection (reconnects like jambonz) */
  readonly #ws: WsRequestor | null;
  /** WS API mode, no verbs left: jambonz waits for the app's next command (call-session.js _awaitCommandsOrHangup) */
  #wake: (() => void) | null = null;
  #audio: WebSocket | null = null;
  #audioRate = 8000;
  #playout: Playout | null = null;
  readonly #heard: HeardChunk[] = [];
  #killedSamples = 0;
  #redirect: Verb[] | null = null;
  #interrupt: (() => void) | null = null;
  #endBridge: ((by: 'agent' | 'caller') => void) | null = null;
  /** the dial's nested listen while bridged: the call forked to the app (see #openHandOffListen) */
  #fork: HandOffFork | null = null;
  /** binary frames the app sent on a dial's nested listen (jambonz plays none of them) */
  forkFramesFromApp = 0;
  /** nested listens opened so far, with the metadata each sent first */
  readonly forks: Array<Record<string, unknown>> = [];
  #children = 0;
  #resolveDone!: (reason: string) => void;
  /** an echoing line (see `echoLine`): caller audio waiting to go out in its 20 ms frames */
  #line: EchoLine | null = null;
  /** rate of the 'played' frames: the bot's stream rate */
  #playedRate = 8000;

  constructor(info: CallInfo, settings: CallSettings) {
    super();
    this.#s = settings;
    this.callSid = info.callSid ?? randomUUID();
    this.payload = {
      call_sid: this.callSid,
      account_sid: 'acct-emulator',
      application_sid: 'app-emulator',
      call_id: `${this.callSid}@emulator`,
      direction: info.direction ?? 'inbound',
      from: info.from,
      to: info.to,
      caller_name: '',
      call_status: 'ringing',
      sip_status: 180,
      sip: { headers: { 'x-emulator': 'jambonz' } },
    };
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#ws =
      settings.mode === 'ws'
        ? new WsRequestor(this.callSid, {
            url: `${settings.appUrl.replace(/^http/, 'ws')}/ws`,
            subprotocol: settings.wsApiSubprotocol ?? 'ws.jambonz.org',
            auth: settings.wsApiAuth,
            ackTimeoutMs: settings.ackTimeoutMs,
            onCommand: (msg) => this.#onCommand(msg),
            onReconnected: () => this.emit('control-reconnected'),
            onReconnectError: (message) => {
              this.hookErrors.push(message);
              void this.end('completed', 'session:reconnect not acked');
            },
            onError: (message) => this.hookErrors.push(message),
          })
        : null;
  }

  /** jambonz has a WS API socket for the call open right now (false from the moment it saw one drop) */
  get controlConnected(): boolean {
    return this.#ws?.socket != null;
  }

  /** WS API sockets jambonz re-opened after one dropped (session:reconnect sent on each) */
  get controlReconnects(): number {
    return Math.max(0, (this.#ws?.connections ?? 0) - 1);
  }

  // ---- running the application -----------------------------------------------------------------

  async start(): Promise<void> {
    let verbs: unknown;
    if (this.#s.mode === 'webhook') {
      verbs = await this.#post(`${this.#s.appUrl}/call`, this.payload);
    } else {
      verbs = await this.#ws!.request({ type: 'session:new', call_sid: this.callSid, data: this.payload });
    }
    void this.#runVerbs(this.#accept(verbs));
  }

  #accept(verbs: unknown): Verb[] {
    if (!Array.isArray(verbs)) {
      if (verbs !== undefined) this.verbErrors.push('app answered with something other than a verb array');
      return [];
    }
    try {
      validateVerbs(verbs);
    } catch (err) {
      this.verbErrors.push((err as Error).message);
      return [];
    }
    this.verbArrays.push(structuredClone(verbs));
    return [...(verbs as Verb[])];
  }

  async #runVerbs(verbs: Verb[]): Promise<void> {
    let queue = verbs;
    try {
      while (!this.ended) {
        if (this.#redirect) {
          queue = this.#redirect;
          this.#redirect = null;
        }
        const next = queue.shift();
        if (!next) {
          // WS API: no verbs left, the call waits for the app's next command (redirect) or the end
          if (this.#ws && !this.#ws.closedGracefully && (await this.#awaitCommands())) continue;
          break;
        }
        const [name, props] = normalizeVerb(next);
        this.emit('verb', name, props);
        queue = await this.#runVerb(name, props, queue);
      }
    } catch (err) {
      this.hookErrors.push((err as Error).message);
    }
    // No more verbs: jambonz hangs up.
    await this.end('completed', 'no more verbs');
  }

  async #runVerb(name: string, props: Verb, rest: Verb[]): Promise<Verb[]> {
    switch (name) {
      case 'listen': {
        const how = await this.#runListen(props);
        if (this.ended || !props.actionHook) return rest;
        let answer: unknown;
        try {
          answer = await this.#hook(String(props.actionHook), {});
        } catch (err) {
          // listen.js catches a failed actionHook: the task is done and the next verb runs
          this.hookErrors.push((err as Error).message);
          return rest;
        }
        const verbs = this.#accept(answer);
        if (how !== 'redirected') return verbs;
        // A redirect killed the listen: jambonz still sends its actionHook, and verbs in the answer replace
        // the application the redirect just started (lib/tasks/task.js performAction).
        if (verbs.length > 0) this.#redirect = verbs;
        return rest;
      }
      case 'dial':
        return this.#runDial(props, rest);
      case 'hangup':
        await this.end('completed', 'hangup verb');
        return [];
      case 'redirect':
        return this.#accept(await this.#hook(String(props.actionHook), {}));
      case 'sip:decline':
        // a final response to the unanswered INVITE: the call never starts, jambonz reports it failed
        this.declined = { status: Number(props.status), reason: String(props.reason ?? '') };
        await this.end('failed', `declined: SIP ${Number(props.status)}`);
        return [];
      default:
        // say, play, pause…: nothing to emulate beyond noting them.
        return rest;
    }
  }

  async #runListen(props: Verb): Promise<'closed' | 'redirected'> {
    this.listens++;
    this.#audioRate = this.#s.streamRate ?? Number(props.sampleRate ?? 8000);
    const bidi = (props.bidirectionalAudio ?? {}) as { streaming?: boolean; sampleRate?: number };
    const outRate = Number(bidi.sampleRate ?? this.#audioRate);
    this.#playedRate = outRate;
    const auth = props.wsAuth as { username: string; password: string } | undefined;
    const headers: Record<string, string> = auth
      ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
      : {};
    const socket = new WebSocket(String(props.url), this.#s.audioSubprotocol ? [this.#s.audioSubprotocol] : [], {
      headers,
    });
    socket.binaryType = 'nodebuffer';
    this.#audio = socket;
    const closed = once(socket, 'close').then(() => 'closed' as const);
    const interrupted = new Promise<'redirected'>((resolve) => {
      this.#interrupt = () => resolve('redirected');
    });
    const playout = new Playout(
      outRate,
      this.#s.codecRate ?? 8000,
      (m) => {
        this.markReports.push(m);
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'mark', data: m }));
      },
      (pcm, at, slot) => this.emit('played', pcm, at, slot),
    );
    this.#playout = playout;
    socket.on('open', () => {
      const meta = this.#listenMetadata(this.#audioRate, props.mixType ?? 'mono', props.metadata);
      // strncpy into an 8 KiB buffer: longer metadata arrives cut (and no longer parses).
      socket.send(
        Buffer.from(JSON.stringify(meta))
          .subarray(0, MAX_METADATA_BYTES - 1)
          .toString('utf8'),
      );
      this.emit('audio-open');
    });
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        if (bidi.streaming) playout.push(data);
        return;
      }
      let msg: { type?: string; data?: { name?: string } };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        return;
      }
      this.commands.push(msg.type ?? '?');
      if (msg.type === 'killAudio') playout.kill();
      else if (msg.type === 'mark' && msg.data?.name && !this.#s.ignoreMarks) playout.mark(msg.data.name);
      else if (msg.type === 'clearMarks') playout.clearMarks();
      else if (msg.type === 'disconnect') socket.close(1000);
    });
    socket.on('error', () => {});
    const how = await Promise.race([closed, interrupted]);
    this.#interrupt = null;
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.terminate();
    playout.stop();
    this.#heard.push(...playout.heardChunks());
    this.#killedSamples += playout.killed;
    this.#playout = null;
    this.#audio = null;
    return how;
  }

  /** A listen socket's first text frame: the call info in camelCase, the stream's format, the verb's metadata. */
  #listenMetadata(sampleRate: number, mixType: unknown, metadata: unknown): Record<string, unknown> {
    return {
      callSid: this.callSid,
      direction: this.payload.direction,
      from: this.payload.from,
      to: this.payload.to,
      callId: this.payload.call_id,
      accountSid: this.payload.account_sid,
      applicationSid: this.payload.application_sid,
      sampleRate,
      mixType,
      ...((metadata ?? {}) as object),
    };
  }

  /**
   * The dial verb as lib/tasks/dial.js runs it: the agent leg's call:status reports go to the caller's status hook
   * (WS API: the caller's socket, caller's call_sid at the top, the agent's only in data); an answered agent is
   * confirmed (confirmHook) and bridged, and the actionHook is sent only when the dial ends: after the bridged
   * conversation, or with the last provisional status on a ring timeout.
   */
  async #runDial(props: Verb, rest: Verb[]): Promise<Verb[]> {
    const target = ((props.target as Verb[] | undefined) ?? [])[0] ?? {};
    const child = {
      ...this.payload,
      call_sid: `${this.callSid}-b${++this.#children}`,
      parent_call_sid: this.callSid,
      direction: 'outbound',
      from: typeof props.callerId === 'string' ? props.callerId : this.payload.from,
      to: String(target.sipUri ?? target.number ?? target.name ?? ''),
    };
    let outcome = this.#s.dial(target);
    const attempt: DialAttempt = {
      target,
      headers: (props.headers ?? {}) as Record<string, string>,
      timeout: props.timeout,
      outcome,
      childSid: child.call_sid,
    };
    this.dialAttempts.push(attempt);
    this.emit('dial', outcome);
    const status = (s: string, sip: number) => this.#childStatus(child, s, sip);
    let result: { status: string; sip: number };
    await status('trying', 100);
    if (outcome === 'busy' || outcome === 'failed') {
      await status(outcome, SIP_STATUS[outcome]);
      result = { status: outcome, sip: SIP_STATUS[outcome] };
    } else if (outcome === 'no-answer') {
      const last = this.#s.ringTimeoutStatus ?? 'ringing';
      if (last !== 'trying') await status(last, SIP_STATUS[last]);
      // The ring timer fires: the result still holds the last provisional status (results vs result in dial.js);
      // the cancelled INVITE's 487 reaches the status hook afterwards.
      result = { status: last, sip: SIP_STATUS[last] };
    } else {
      await status('ringing', 180);
      await status('in-progress', 200);
      if (typeof target.confirmHook === 'string') {
        // The confirm application runs on the agent's leg before bridging; a hangup there rejects the agent.
        const verbs = this.#accept(await this.#hook(target.confirmHook, child, 'dial:confirm'));
        if (verbs.some((v) => normalizeVerb(v)[0] === 'hangup')) outcome = attempt.outcome = 'failed';
      }
      if (outcome === 'failed') {
        await status('completed', 200);
        result = { status: 'failed', sip: 603 };
      } else {
        const by = await this.#bridge((props.listen ?? props.stream) as Verb | undefined);
        await status('completed', 200);
        result = { status: 'completed', sip: 200 };
        if (by === 'caller') {
          // The caller hung up while bridged: the dial ends and its actionHook is still sent; the call is over.
          attempt.actionStatus = result.status;
          if (props.actionHook) await this.#hook(String(props.actionHook), dialResult(child, result)).catch(() => {});
          await this.end('completed', 'caller hangup');
          return [];
        }
      }
    }
    attempt.actionStatus = result.status;
    const next = props.actionHook
      ? this.#accept(await this.#hook(String(props.actionHook), dialResult(child, result)))
      : rest;
    if (outcome === 'no-answer') await status('no-answer', 487);
    return next;
  }

  /**
   * Caller and agent talk (the bot is not in the media path) until one of them hangs up. A nested `listen` starts
   * once the agent is bridged (dial.js _selectSingleDial) and is killed when the dial ends.
   */
  async #bridge(listen?: Verb): Promise<'agent' | 'caller'> {
    this.bridged = true;
    this.bridgedAt = performance.now();
    if (listen) this.#fork = this.#openHandOffListen(listen);
    this.emit('bridged');
    const by = await new Promise<'agent' | 'caller'>((resolve) => (this.#endBridge = resolve));
    this.#endBridge = null;
    this.bridged = false;
    this.#fork?.close();
    this.#fork = null;
    return by;
  }

  /**
   * listen nested in dial: mod_audio_fork on the caller's (A-leg) endpoint, so `mono` is the caller only, `stereo`
   * the caller on the left and the agent (what is written to the caller) on the right, `mixed` both summed. The
   * media server streams on its own 20 ms clock, silence when nobody talks. Bidirectional audio does not work
   * nested in a dial: anything the app sends is counted and never played.
   */
  #openHandOffListen(listen: Verb): HandOffFork {
    const rate = Number(listen.sampleRate ?? 8000);
    const mix = String(listen.mixType ?? 'mono');
    const auth = listen.wsAuth as { username: string; password: string } | undefined;
    const socket = new WebSocket(String(listen.url), this.#s.audioSubprotocol ? [this.#s.audioSubprotocol] : [], {
      headers: auth
        ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
        : {},
    });
    socket.binaryType = 'nodebuffer';
    socket.on('error', () => {});
    const fork = new HandOffFork(rate, (frame) => {
      if (socket.readyState !== WebSocket.OPEN) return;
      const { caller, agent } = frame;
      const channels = mix === 'stereo' ? 2 : 1;
      const out = Buffer.alloc(caller.length * 2 * channels);
      for (let i = 0; i < caller.length; i++) {
        if (mix === 'stereo') {
          out.writeInt16LE(caller[i]!, i * 4);
          out.writeInt16LE(agent[i]!, i * 4 + 2);
        } else {
          const v = mix === 'mixed' ? caller[i]! + agent[i]! : caller[i]!;
          out.writeInt16LE(Math.max(-32768, Math.min(32767, v)), i * 2);
        }
      }
      socket.send(out);
    });
    fork.socket = socket;
    socket.on('open', () => {
      // the A leg's call info (the session's callSid), like the call's own listen
      const meta = this.#listenMetadata(rate, mix, listen.metadata);
      this.forks.push(meta);
      socket.send(JSON.stringify(meta));
      fork.start();
      this.emit('fork-open');
    });
    socket.on('message', (_data: Buffer, isBinary) => {
      if (!isBinary) return;
      this.forkFramesFromApp++;
    });
    return fork;
  }

  async #childStatus(child: Record<string, unknown>, status: string, sipStatus: number): Promise<void> {
    if (this.ended) return;
    this.childStatusSent.push({ callSid: String(child.call_sid), status, sipStatus });
    const data = { ...child, call_status: status, sip_status: sipStatus };
    if (this.#s.mode === 'webhook') {
      await this.#post(`${this.#s.appUrl}/status`, data).catch((err: Error) => this.hookErrors.push(err.message));
    } else {
      // ws-requestor.js puts the session's call_sid at the top of every message.
      await this.#ws?.notify({ type: 'call:status', call_sid: this.callSid, data }).catch((err: Error) => {
        this.hookErrors.push(err.message);
      });
    }
  }

  // ---- transport --------------------------------------------------------------------------------

  #signature(body: string): string | undefined {
    if (this.#s.signWith === null) return undefined;
    const t = Math.floor(Date.now() / 1000) + (this.#s.signatureSkewSec ?? 0);
    return signWebhook(this.#s.signWith ?? this.#s.webhookSecret, body, t);
  }

  async #post(url: string, body: object): Promise<unknown> {
    const raw = JSON.stringify(body);
    const signature = this.#signature(raw);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(signature ? { 'jambonz-signature': signature } : {}) },
      body: raw,
      signal: AbortSignal.timeout(10_000),
    });
    this.emit('http', url, res.status);
    const text = await res.text();
    if (!WEBHOOK_OK.includes(res.status)) throw new Error(`webhook ${url} answered ${res.status}`);
    if (res.status === 204) return undefined;
    // jambonz ignores any answer that is not application/json.
    if (!res.headers.get('content-type')?.startsWith('application/json')) return undefined;
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  async #hook(hook: string, extra: object, wsType = 'verb:hook'): Promise<unknown> {
    const data = { ...this.payload, call_status: 'in-progress', ...extra };
    if (this.#s.mode === 'webhook') {
      const url = /^https?:/.test(hook) ? hook : `${this.#s.appUrl}${hook}`;
      return this.#post(url, data);
    }
    return this.#ws!.request({ type: wsType, call_sid: this.callSid, hook, data });
  }

  #onCommand(msg: { command?: string; data?: unknown }): void {
    this.commands.push(`command:${msg.command}`);
    if (msg.command === 'redirect') {
      const verbs = this.#accept(msg.data);
      if (verbs.length === 0) return;
      this.#redirect = verbs;
      this.#interrupt?.();
      this.#wake?.();
    } else if (msg.command === 'call:status' && (msg.data as { call_status?: string })?.call_status === 'completed') {
      void this.end('completed', 'app hung up');
    }
  }

  /** No verbs left (WS API): wait for a redirect (true) or the end of the call (false). */
  async #awaitCommands(): Promise<boolean> {
    if (this.#redirect) return true;
    await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = null;
    return !this.ended && this.#redirect !== null;
  }

  async #status(status: string, sipStatus = 200): Promise<void> {
    this.statusSent.push(status);
    const data = { ...this.payload, call_status: status, sip_status: sipStatus };
    if (this.#s.mode === 'webhook') {
      await this.#post(`${this.#s.appUrl}/status`, data).catch((err: Error) => this.hookErrors.push(err.message));
    } else {
      await this.#ws?.notify({ type: 'call:status', call_sid: this.callSid, data }).catch((err: Error) => {
        this.hookErrors.push(err.message);
      });
    }
  }

  /**
   * A call placed with the REST API (lib/http-routes/api/create-call.js), after the 201: the RestCallSession reports
   * trying (100) at once, then each provisional (ringing 180 / early-media 183), then in-progress (200) on answer, or
   * busy (486/603), no-answer (487: the ring timer in lib/tasks/rest_dial.js cancels the INVITE) or failed (other
   * codes) to the call_status_hook; only an answered call runs the application (call_hook / session:new). In WS API
   * mode the first status opens the socket (ws-requestor.js), so statuses arrive before session:new.
   */
  async outdial(outcome: DialOutcome): Promise<void> {
    await this.#status('trying', 100);
    if (outcome === 'busy' || outcome === 'failed') {
      await this.end(outcome, `outdial ${outcome}`, SIP_STATUS[outcome]);
      return;
    }
    const last = this.#s.ringTimeoutStatus ?? 'ringing';
    if (last !== 'trying') await this.#status(last, SIP_STATUS[last]);
    if (outcome === 'no-answer') {
      await this.end('no-answer', 'outdial ring timeout', 487);
      return;
    }
    await this.#status('in-progress', 200);
    this.payload.call_status = 'in-progress';
    this.payload.sip_status = 200;
    await this.start();
  }

  // ---- what a test does to the call -------------------------------------------------------------

  /** The call ends (caller hangup, hangup verb, no more verbs): audio closes, status "completed" is reported. */
  async end(status: string, reason: string, sipStatus = 200): Promise<void> {
    if (this.ended) return;
    this.ended = reason;
    this.#line?.stop();
    this.#audio?.close(1000);
    this.#interrupt?.();
    this.#wake?.();
    // call-session.js: the status goes out (executeStatusCallback, not awaited) and the session's resources are
    // cleared at once (_clearResources: requestor.close(), 1000), whether or not the status could be sent yet
    const reported = this.#status(status, sipStatus);
    this.#ws?.close();
    await reported;
    this.#resolveDone(reason);
  }

  async hangup(): Promise<void> {
    if (this.#endBridge) {
      this.#endBridge('caller');
      await this.done;
      return;
    }
    await this.end('completed', 'caller hangup');
  }

  /**
   * While bridged: the caller or the agent talks (PCM16 at `rate`), as the media server reads and writes the A leg;
   * a dial's nested listen streams it in real time. Resolves when it has all been streamed.
   */
  async speakBridged(party: 'caller' | 'agent', pcm: Int16Array, rate: number): Promise<void> {
    const fork = this.#fork;
    if (!fork) throw new Error('no nested listen is streaming');
    await fork.speak(party, pcm, rate);
  }

  /** Wait until a dial's nested listen is streaming (bounded). */
  async forkReady(timeoutMs = 5000): Promise<void> {
    if (this.#fork?.running) return;
    await once(this, 'fork-open', { signal: AbortSignal.timeout(timeoutMs) });
  }

  /** The bridged agent hangs up: the dial ends and its actionHook decides what happens to the caller. */
  agentHangup(): void {
    if (!this.#endBridge) throw new Error('no agent is bridged');
    this.#endBridge('agent');
  }

  /** Network loss: both sockets die, nothing more is reported. */
  vanish(): void {
    // a socket jambonz left open after the end (a status that connected one of its own) dies with the process too
    if (this.ended) return void this.#ws?.terminate();
    this.ended = 'vanished';
    this.#endBridge?.('caller');
    this.#audio?.terminate();
    this.#interrupt?.();
    this.#wake?.();
    this.#ws?.terminate();
    this.#resolveDone('vanished');
  }

  /** The media server loses the listen socket (network blip): the listen ends and its actionHook runs. */
  dropAudio(): void {
    this.#audio?.terminate();
  }

  /** The WS API socket drops (network, the app's process): resolves once jambonz has reconnected (session:reconnect acked). */
  async reconnectControl(timeoutMs = 5000): Promise<void> {
    const reconnected = once(this, 'control-reconnected', { signal: AbortSignal.timeout(timeoutMs) });
    this.dropControl();
    await reconnected;
  }

  /** The WS API socket drops under jambonz; it reconnects on its own (session:reconnect) after its backoff. */
  dropControl(): void {
    this.#ws?.drop();
  }

  /** Sample rate of the current listen's caller audio (L16). */
  get audioRate(): number {
    return this.#audioRate;
  }

  get audioOpen(): boolean {
    return this.#audio?.readyState === WebSocket.OPEN;
  }
  get control(): WebSocket | null {
    return this.#ws?.socket ?? null;
  }

  /** Wait for the next listen socket to be open (bounded). */
  async audioReady(timeoutMs = 5000): Promise<void> {
    if (this.audioOpen) return;
    await once(this, 'audio-open', { signal: AbortSignal.timeout(timeoutMs) });
  }

  /**
   * Send caller audio (PCM16 at `rate`) as 20 ms L16 frames at the listen's rate. `speed`: 1 = real time,
   * 4 = four times faster, 0 (default) = as fast as the event loop allows.
   */
  async sendAudio(pcm: Int16Array, rate: number, opts: { speed?: number } = {}): Promise<void> {
    const resampler = rate === this.#audioRate ? null : new Resampler(rate, this.#audioRate);
    const audio = resampler ? concatPcm([resampler.process(pcm), resampler.flush()]) : pcm;
    // the echoing line sends every frame in real time: the caller's audio joins it
    if (this.#line) return this.#line.say(audio);
    const frame = (this.#audioRate * 20) / 1000;
    const frameMs = opts.speed ? 20 / opts.speed : 0;
    const start = performance.now();
    for (let i = 0, n = 0; i < audio.length; i += frame, n++) {
      const socket = this.#audio;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      const chunk = audio.subarray(i, Math.min(i + frame, audio.length));
      const bytes = Buffer.alloc(chunk.length * 2);
      for (let k = 0; k < chunk.length; k++) bytes.writeInt16LE(chunk[k]!, k * 2);
      socket.send(bytes);
      const wait = start + (n + 1) * frameMs - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      else if (n % 10 === 9) await new Promise((r) => setImmediate(r));
    }
  }

  /** Stream a WAV file (any rate readWav accepts, first channel) as caller audio. */
  async sendWav(path: string, opts: { speed?: number } = {}): Promise<void> {
    const wav = await readWavFile(path);
    const mono = wav.channels === 1 ? wav.samples : wav.samples.filter((_, i) => i % wav.channels === 0);
    await this.sendAudio(mono, wav.sampleRate, opts);
  }

  async sendSilence(ms: number, opts: { speed?: number } = {}): Promise<void> {
    await this.sendAudio(new Int16Array((this.#audioRate * ms) / 1000), this.#audioRate, opts);
  }

  sendDtmf(digit: string, duration = 160): void {
    this.#audio?.send(JSON.stringify({ event: 'dtmf', dtmf: digit, duration }));
  }

  /**
   * A phone line that echoes, like a real one: from now on the caller streams a 20 ms frame every 20 ms (real time,
   * as jambonz does), carrying the echo of what the caller heard (delayed, attenuated, filtered; src/media/echo-path.ts)
   * mixed with whatever `sendAudio`/`sendWav` send. Stops when the call ends.
   */
  echoLine(opts: Omit<EchoPathOptions, 'sampleRate'>): void {
    const line = new EchoLine({ ...opts, sampleRate: this.#audioRate }, (frame) => {
      const socket = this.#audio;
      if (socket?.readyState !== WebSocket.OPEN) return;
      const bytes = Buffer.alloc(frame.length * 2);
      for (let k = 0; k < frame.length; k++) bytes.writeInt16LE(frame[k]!, k * 2);
      socket.send(bytes);
    });
    this.#line?.stop();
    this.#line = line;
    // what the caller hears is at the bot's stream rate; the line runs at the listen's
    // placed at the media server's playout slot, not when our timer got to it: the media server and the caller's
    // line run on one clock there
    this.on('played', (pcm: Int16Array, _at: number, slot: number) =>
      line.heard(this.#playedRate === this.#audioRate ? pcm : resample(pcm, this.#playedRate, this.#audioRate), slot),
    );
    if (this.ended) line.stop();
    else line.start();
  }

  /** Raw frame on the audio socket (malformed-frame tests). */
  sendRaw(data: Buffer | string): void {
    this.#audio?.send(data);
  }

  /** Everything the caller has heard from the app, across listens (PCM16 at the listen's streaming rate). */
  heard(): Int16Array {
    return concatPcm(this.heardChunks().map((c) => c.pcm));
  }

  /** The same, with when each piece was played (performance.now()): what the caller heard after a given moment. */
  heardChunks(): HeardChunk[] {
    return [...this.#heard, ...(this.#playout?.heardChunks() ?? [])];
  }

  /** bot audio the media server still holds back in its pre-buffer on the open listen */
  get heldSamples(): number {
    return this.#playout?.held ?? 0;
  }

  get killedSamples(): number {
    return this.#killedSamples + (this.#playout?.killed ?? 0);
  }
}

/** A dial's nested listen: each party's audio queued, one 20 ms frame of each per tick (silence when quiet). */
class HandOffFork {
  socket: WebSocket | null = null;
  readonly #queues: Record<'caller' | 'agent', Int16Array[]> = { caller: [], agent: [] };
  readonly #drained = new EventEmitter();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly rate: number,
    private readonly send: (frame: { caller: Int16Array; agent: Int16Array }) => void,
  ) {}

  get running(): boolean {
    return this.#timer !== null;
  }

  start(): void {
    const frame = this.rate / 50;
    const start = performance.now();
    let n = 0;
    const tick = () => {
      const due = Math.floor((performance.now() - start) / 20);
      for (; n <= due; n++) {
        const caller = this.#queues.caller.shift() ?? new Int16Array(frame);
        const agent = this.#queues.agent.shift() ?? new Int16Array(frame);
        this.send({ caller, agent });
        if (this.#queues.caller.length === 0 && this.#queues.agent.length === 0) this.#drained.emit('drained');
      }
      this.#timer = setTimeout(tick, Math.max(1, start + n * 20 - performance.now()));
    };
    tick();
  }

  async speak(party: 'caller' | 'agent', pcm: Int16Array, rate: number): Promise<void> {
    const resampler = rate === this.rate ? null : new Resampler(rate, this.rate);
    const audio = resampler ? concatPcm([resampler.process(pcm), resampler.flush()]) : pcm;
    const frame = this.rate / 50;
    for (let i = 0; i < audio.length; i += frame) {
      const f = new Int16Array(frame);
      f.set(audio.subarray(i, i + frame));
      this.#queues[party].push(f);
    }
    if (this.#timer) await once(this.#drained, 'drained');
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#drained.emit('drained');
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000);
  }
}

/** The dial actionHook payload (the code sends dial_call_status; the docs table says dial_status). */
function dialResult(child: Record<string, unknown>, r: { status: string; sip: number }): Record<string, unknown> {
  return {
    dial_call_status: r.status,
    dial_sip_status: r.sip,
    dial_call_sid: child.call_sid,
    dial_sbc_callid: `${String(child.call_sid)}@sbc`,
  };
}
