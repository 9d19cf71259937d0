import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import { backgroundTimer, systemClock, type Clock, type Admission, type Permit } from 'voicebot/core';
import { type Logger, WarnLimiter, callLogger } from 'voicebot/log';
import {
  type TelephonyConfig,
  type CallLeg,
  type OriginateOptions,
  type TelephonyBackend,
  type TransferTarget,
  CallSupervisor,
  DialWait,
  OriginateError,
} from 'voicebot/telephony';
import { callStatusOutcome, dialStatusOutcome, statusDetail } from './call-status.js';
import { JambonzCallLeg, type ControlMode, type LegHost } from './call-leg.js';
import { dialOutcomeSchema, sendJson, type CallPayload } from './messages.js';
import { jambonzMetrics, type JambonzMetrics } from './metrics.js';
import { mediaPacers, type PacerFactory } from './pacer.js';
import { cancelCall, createCall } from './rest.js';
import { SERVED_AT, awaitFreeCall, servingInstance, type CallRegistry } from './takeover.js';
import { VIA_PARAM, relayHook, type ArrivedHook } from './hook-relay.js';
import { declineVerb, dialVerb, hangupVerb, listenVerb, type HandOffListen, type JambonzVerb } from './verbs.js';

export type JambonzConfig = NonNullable<TelephonyConfig['jambonz']>;

export interface JambonzDeps {
  logger: Logger;
  metrics: Registry;
  /** where the routes are mounted (default /jambonz) */
  pathPrefix?: string;
  /** tests inject a fake clock pacer; production uses the media plane's Pacer */
  pacers?: PacerFactory;
  fetch?: typeof fetch;
  /** the app's concurrent-call cap; a call over it is declined with SIP 503 before anything is allocated */
  admission?: Admission;
  /** grace periods, timeouts and tombstones run on this clock (tests: a fake one) */
  clock?: Clock;
  /**
   * Several instances behind a balancer sharing the call state: a call this instance does not hold that jambonz
   * brings here (session:reconnect, a listen's actionHook) is taken over once its lease is free. Absent: one instance.
   */
  registry?: CallRegistry;
}

/** Where jambonz reaches us, for the URLs we put in verbs. */
export interface UrlBase {
  http: string;
  ws: string;
}

/** Names of the hooks our verbs ask jambonz to call back (HTTP: path under the prefix; WS API: hook name). */
export const HOOKS = { listenEnded: 'listen-ended', dialEnded: 'dial-ended', dialConfirm: 'dial-confirm' } as const;
export type HookName = (typeof HOOKS)[keyof typeof HOOKS];
const isHook = (name: string): name is HookName => (Object.values(HOOKS) as string[]).includes(name);

const ENDED_STATUSES = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);
/** How long an ended call's sid is remembered, so late hooks get a clean `hangup`. */
const TOMBSTONE_MS = 60_000;
/** jambonz cancels an unanswered outdial at its `timeout` and reports no-answer; we give up this much later. */
const OUTDIAL_GRACE_MS = 5000;
const RING_TIMEOUT = 'ring timeout';
/** final statuses kept for outdials whose 201 has not been read yet (the status hook can win that race) */
const MAX_UNCLAIMED = 64;

interface StatusReport {
  callSid: string;
  status: string;
  parentCallSid?: string | undefined;
  sipStatus?: number | string | undefined;
  /** the call as the report describes it (from, to, direction): enough to take over a call that ended elsewhere */
  payload?: CallPayload | undefined;
  /** which way the report came */
  mode?: ControlMode | undefined;
}

export interface JambonzStats {
  calls: number;
  audioSockets: number;
  controlSockets: number;
  running: number;
  tombstones: number;
  /** calls waiting for another instance's lease before this one takes them over */
  adopting: number;
}

/** The jambonz telephony backend: one object per app, shared by the HTTP webhooks and the two WebSocket endpoints. */
export class JambonzBackend implements TelephonyBackend {
  readonly name = 'jambonz';
  readonly pathPrefix: string;
  readonly config: JambonzConfig;
  readonly metrics: JambonzMetrics;
  readonly logger: Logger;
  readonly #pacers: PacerFactory;
  readonly #fetch: typeof fetch;
  readonly #calls = new Map<string, JambonzCallLeg>();
  readonly #tombstones = new Map<string, unknown>();
  /** tombstones of calls the bot left with a person: the call goes on, jambonz may still come back about it */
  readonly #withPerson = new Set<string>();
  readonly #clock: Clock;
  readonly #audioSockets = new Set<WebSocket>();
  readonly #controlSockets = new Set<WebSocket>();
  readonly #supervisor: CallSupervisor;
  /** admitted calls whose bot has not started (audio not connected yet): their places under the cap */
  readonly #waitingForAudio = new Map<string, Permit>();
  /** outbound calls placed with the REST API whose callee has not answered yet, by call sid */
  readonly #outdials = new Map<string, DialWait>();
  readonly #unclaimed = new Map<string, StatusReport>();
  #placing = 0;
  readonly #registry: CallRegistry | undefined;
  /** takeovers waiting for the call's lease, by call sid: a second trigger for the same call joins the first */
  readonly #adopting = new Map<string, Promise<JambonzCallLeg | null>>();
  /** aborted on stop: takeovers still waiting give up */
  readonly #stopping = new AbortController();
  /** calls taken over here whose bot has not started (their audio is still to connect) */
  readonly #takenOver = new Set<string>();
  /** calls jambonz said were over while their takeover here still waited for the lease: the takeover records them */
  readonly #endedWhileAdopting = new Set<string>();
  /** hooks not passed on: a replayed hook can be sent at line rate, so its warnings are bounded (all are counted) */
  readonly #relayWarnings: WarnLimiter;

  constructor(config: JambonzConfig, deps: JambonzDeps) {
    this.config = config;
    this.logger = deps.logger.child({ component: 'jambonz' });
    this.metrics = jambonzMetrics(deps.metrics);
    this.pathPrefix = deps.pathPrefix ?? '/jambonz';
    this.#pacers = deps.pacers ?? mediaPacers;
    this.#fetch = deps.fetch ?? fetch;
    this.#clock = deps.clock ?? systemClock;
    this.#registry = deps.registry;
    this.#relayWarnings = new WarnLimiter(this.logger);
    this.#supervisor = new CallSupervisor({
      logger: this.logger,
      backend: 'jambonz',
      ...(deps.admission ? { admission: deps.admission } : {}),
    });
  }

  async start(onCall: (call: CallLeg) => Promise<void>, signal?: AbortSignal): Promise<void> {
    this.#supervisor.start(onCall);
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    await Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    const stopped = this.#supervisor.stop();
    await Promise.all([...this.#calls.values()].map((leg) => leg.hangup('shutdown')));
    for (const socket of [...this.#audioSockets, ...this.#controlSockets]) socket.close(1001, 'shutting down');
    for (const timer of this.#tombstones.values()) this.#clock.clearTimeout(timer);
    this.#tombstones.clear();
    this.#withPerson.clear();
    this.#relayWarnings.flush();
    await stopped;
  }

  /**
   * A callback over jambonz's REST API. jambonz's 201 only means the INVITE is on its way: the callee's answer comes
   * to the call status hook (in-progress), as does busy, no-answer or failed. Resolves with the call sid once the
   * callee answered (jambonz then runs this app for it, direction outbound); rejects with OriginateError otherwise,
   * or when nothing is reported within the ring time (plus a grace) on the injected clock.
   */
  async originate(target: TransferTarget, options: OriginateOptions): Promise<string> {
    let sid: string;
    this.#placing++;
    try {
      sid = await createCall(this.config, target, {
        fetch: this.#fetch,
        callerId: options.callerId ?? this.config.callerId,
        callHookUrl: this.config.publicUrl
          ? `${this.config.publicUrl.replace(/\/$/, '')}${this.pathPrefix}`
          : undefined,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      this.#placed();
      throw err;
    }
    const wait = new DialWait({ clock: this.#clock, signal: options.signal });
    this.#outdials.set(sid, wait);
    const early = this.#unclaimed.get(sid);
    this.#placed();
    if (early) this.#outdialStatus(wait, early);
    wait.ring(target.timeoutSec * 1000 + OUTDIAL_GRACE_MS, { outcome: 'no-answer', detail: RING_TIMEOUT });
    let result;
    try {
      result = await wait.result;
    } finally {
      wait.dispose();
      this.#outdials.delete(sid);
    }
    if (result.outcome !== 'answered') {
      // we gave up (ring timeout, abort) before jambonz said anything final: cancel its INVITE
      if (result.detail === RING_TIMEOUT || result.detail === 'aborted') {
        cancelCall(this.config, sid, { fetch: this.#fetch }).catch((err: unknown) =>
          this.logger.warn({ callSid: sid, err: String(err) }, 'could not cancel the unanswered outbound call'),
        );
      }
      throw new OriginateError(result.outcome, result.detail ?? result.outcome);
    }
    return sid;
  }

  /** One create-call request is done: with none in flight, early statuses nobody will claim are dropped. */
  #placed(): void {
    this.#placing--;
    if (this.#placing === 0) this.#unclaimed.clear();
  }

  #outdialStatus(wait: DialWait, report: StatusReport): void {
    const outcome = callStatusOutcome(report.status);
    if (outcome) wait.decide({ outcome, detail: statusDetail(report.status, report.sipStatus) });
  }

  stats(): JambonzStats {
    return {
      calls: this.#calls.size,
      audioSockets: this.#audioSockets.size,
      controlSockets: this.#controlSockets.size,
      running: this.#supervisor.active,
      tombstones: this.#tombstones.size,
      adopting: this.#adopting.size,
    };
  }

  leg(callSid: string): JambonzCallLeg | undefined {
    return this.#calls.get(callSid);
  }

  /**
   * Where jambonz's media server opens the listen socket: this instance itself (`instanceUrl`, so a call's audio
   * reaches the instance serving it even behind a balancer), else the URL base the verbs use.
   */
  #audioUrl(base: UrlBase): string {
    const own = this.config.instanceUrl?.replace(/\/$/, '').replace(/^http/, 'ws');
    return `${own ?? base.ws}${this.pathPrefix}/audio`;
  }

  /** URLs for verbs: the configured public URL, or the scheme and Host the request came in on. */
  urlBase(headers: Record<string, string | string[] | undefined>): UrlBase {
    const configured = this.config.publicUrl?.replace(/\/$/, '');
    const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
    const proto = first(headers['x-forwarded-proto'])?.split(',')[0]?.trim() === 'https' ? 'https' : 'http';
    const http = configured ?? `${proto}://${first(headers['x-forwarded-host']) ?? first(headers.host) ?? 'localhost'}`;
    return { http, ws: http.replace(/^http/, 'ws') };
  }

  // ---- calls -------------------------------------------------------------------------------------

  /** A new call (call webhook or session:new): create its leg and answer with the listen verb. */
  newCall(payload: CallPayload, mode: ControlMode, base: UrlBase, control?: WebSocket): JambonzVerb[] {
    const existing = this.#calls.get(payload.call_sid);
    if (existing) {
      // A retried webhook or a duplicate session: same call, same answer.
      if (control) existing.attachControl(control);
      return [this.#listen(existing, base)];
    }
    if (this.#tombstones.has(payload.call_sid)) return [hangupVerb()];
    const admitted = this.#supervisor.admit();
    if (typeof admitted === 'string') {
      this.logger.warn({ callSid: payload.call_sid, refusal: admitted }, 'jambonz call refused');
      // over the cap: a SIP final response to the unanswered call (503 + Retry-After), nothing allocated
      return [admitted === 'busy' ? declineVerb(503, 'Service Unavailable') : hangupVerb()];
    }
    const leg = this.#createLeg(payload, mode, base, admitted, control);
    // The bot (VAD, ASR, CRM ticket) starts only once jambonz's audio socket arrives: a session that never
    // connects audio (a forged or failed one) costs nothing and leaves no ticket behind.
    return [this.#listen(leg, base)];
  }

  #createLeg(payload: CallPayload, mode: ControlMode, base: UrlBase, admitted: Permit, control?: WebSocket) {
    const leg = new JambonzCallLeg(
      {
        callSid: payload.call_sid,
        from: payload.from,
        to: payload.to,
        direction: payload.direction,
        sampleRate: this.config.sampleRate,
        mode,
        audioToken: randomBytes(18).toString('base64url'),
        // stored with the call's state: the other instances pass the call's hooks on to this address
        ...(this.#ownUrl ? { sessionData: { [SERVED_AT]: this.#ownUrl } } : {}),
      },
      this.#legHost(payload.call_sid, mode, base),
    );
    this.#calls.set(leg.id, leg);
    this.#waitingForAudio.set(leg.id, admitted);
    this.metrics.activeCalls.inc();
    if (control) leg.attachControl(control);
    return leg;
  }

  /**
   * WS API `session:reconnect` (already acked): jambonz re-opened the call's socket, here. A call we hold goes on over
   * the new socket; one we ended gets hung up; one another instance held is taken over: once its lease is free, a
   * redirect to a listen on this instance, and the bot resumes it from the session store.
   */
  reconnected(payload: CallPayload, base: UrlBase, control: WebSocket): void {
    const sid = payload.call_sid;
    const leg = this.#calls.get(sid);
    if (leg) return leg.attachControl(control);
    const hangup = () =>
      sendJson(control, { type: 'command', command: 'call:status', data: { call_status: 'completed' } });
    // The call ended on our side while jambonz was away: end it on theirs too. Not one the bot left with a person:
    // the caller and the agent talk on (the dial runs on; its actionHook comes here when it ends).
    if (this.#tombstones.has(sid)) return this.#withPerson.has(sid) ? undefined : void hangup();
    if (!this.#registry) return;
    void this.#adopt(payload, 'ws', base, control).then((adopted) => {
      if (this.#endedWhileAdopting.has(sid)) return; // the caller left meanwhile: #endedAway records the call
      if (adopted?.state === 'bridged') return; // with a person: a redirect would end the dial; wait for its end
      // Nothing to take over here: never hang up on that alone. The call may be with a person (another instance
      // handed it over and wrote its record); whatever jambonz runs next asks a hook, which decides (a listen whose
      // socket is gone ends, and its hook gets a hangup).
      if (!adopted) return;
      if (adopted.resumeWith(this.#listen(adopted, base)) !== 'sent') void adopted.detach('ws-api-lost');
    });
  }

  /**
   * Take over a call another instance served: wait (bounded) until its lease is free, then build its leg here. null:
   * nothing to resume, the holder kept it, or this instance is full; the call cannot go on with us.
   */
  #adopt(payload: CallPayload, mode: ControlMode, base: UrlBase, control?: WebSocket): Promise<JambonzCallLeg | null> {
    const sid = payload.call_sid;
    const pending = this.#adopting.get(sid);
    if (pending) return pending;
    const log = callLogger(this.logger, sid);
    const adoption = (async () => {
      const found = await awaitFreeCall(this.#registry!, sid, this.#clock, this.#stopping.signal);
      const free = found === 'free' || found === 'with-person';
      if (!free || this.#calls.has(sid) || this.#tombstones.has(sid)) {
        // gone: nothing stored (also the usual end of a call another instance recorded, its status landing here)
        if (found === 'gone') log.debug({ found }, 'jambonz call not taken over');
        else log.warn({ found }, 'jambonz call not taken over');
        return null;
      }
      const admitted = this.#supervisor.admit();
      if (typeof admitted === 'string') {
        log.warn({ refusal: admitted }, 'jambonz call not taken over: this instance takes no calls');
        return null;
      }
      log.info({ mode, withPerson: found === 'with-person' }, 'taking the jambonz call over from another instance');
      this.metrics.takeovers.inc({ mode });
      this.#takenOver.add(sid);
      const leg = this.#createLeg(payload, mode, base, admitted, control);
      // the caller talks to an agent (jambonz's dial runs on): no listen for us, only the call's end, which the
      // bot records (see #endTakenOver)
      if (found === 'with-person') leg.withPersonElsewhere();
      return leg;
    })().finally(() => this.#adopting.delete(sid));
    this.#adopting.set(sid, adoption);
    return adoption;
  }

  #legHost(callSid: string, mode: ControlMode, base: UrlBase): LegHost {
    return {
      logger: callLogger(this.logger, callSid),
      clock: this.#clock,
      pacers: this.#pacers,
      reconnectGraceMs: this.config.reconnectGraceMs,
      handOver: this.#registry !== undefined,
      markTimeoutMs: this.config.markTimeoutMs,
      dialVerb: (request) =>
        dialVerb(request, {
          ...this.#handOffListen(callSid, base),
          actionHook: this.#hookRef(HOOKS.dialEnded, mode, base),
          confirmHook: this.#hookRef(HOOKS.dialConfirm, mode, base),
          ...(this.config.trunk ? { trunk: this.config.trunk } : {}),
        }),
      onOversize: (what) => {
        this.metrics.oversizeFrames.inc();
        this.logger.error({ callSid, what }, 'refused to send a frame over 24 KiB to jambonz');
      },
      onReleased: (leg) => this.#released(leg),
      onAudioConnected: (leg) => {
        const permit = this.#waitingForAudio.get(leg.id);
        if (!permit) return;
        this.#waitingForAudio.delete(leg.id);
        this.#takenOver.delete(leg.id);
        void this.#supervisor.run({ leg, log: callLogger(this.logger, leg.id), hangupReason: 'bot-finished' }, permit);
      },
    };
  }

  /** This instance's own address when it shares calls with others (`instanceUrl`, with a registry); else undefined. */
  get #ownUrl(): string | undefined {
    return this.#registry ? this.config.instanceUrl?.replace(/\/$/, '') : undefined;
  }

  #hookRef(name: HookName, mode: ControlMode, base: UrlBase): string {
    if (mode === 'ws') return `/${name}`;
    // through a balancer the hook may reach any instance: it names the one that asked for it, which answers it
    // while it lives (see #relay)
    return this.#hookUrl(base.http, name, this.#ownUrl);
  }

  #hookUrl(http: string, name: HookName, via: string | undefined): string {
    const url = `${http}${this.pathPrefix}/hook/${name}`;
    return via ? `${url}?${VIA_PARAM}=${encodeURIComponent(via)}` : url;
  }

  /**
   * Passes a webhook for a call this instance does not serve on to the instance that does, as the session store names
   * it (the address its owner stored), never to an address the request names: jambonz signs the body and timestamp,
   * not the URL, so a captured hook can come back within the tolerance with any `via`. The hook's `via` must name that
   * same instance; one naming any other address is not passed on (counted and warned: a tampered or stale hook).
   * null: not passed on (nobody else serves the call, or not a hook of ours), or that instance did not answer.
   */
  async #relay(sid: string, hook: string, arrived: ArrivedHook | undefined): Promise<JambonzVerb[] | null> {
    if (!arrived || !this.#registry || !isHook(hook)) return null;
    const served = (await servingInstance(this.#registry, sid, this.#clock))?.replace(/\/$/, '');
    if (!served || served === this.#ownUrl) return null;
    if (arrived.via?.replace(/\/$/, '') !== served) {
      this.metrics.hookRelays.inc({ outcome: 'refused' });
      // no body, no signature: only where the request wanted the hook to go
      this.#relayWarnings.warn(
        'hook_relay_refused',
        { callSid: sid, hook, via: originOf(arrived.via) },
        'jambonz hook not relayed: its via does not name the instance serving the call',
      );
      return null;
    }
    const verbs = await relayHook(this.#hookUrl(served, hook, served), arrived, this.#fetch);
    this.metrics.hookRelays.inc({ outcome: verbs ? 'answered' : 'no_answer' });
    return verbs;
  }

  #listen(leg: JambonzCallLeg, base: UrlBase): JambonzVerb {
    return listenVerb({
      url: this.#audioUrl(base),
      sampleRate: leg.inputSampleRate,
      actionHook: this.#hookRef(HOOKS.listenEnded, leg.mode, base),
      wsAuth: { username: leg.id, password: leg.audioToken },
      metadata: { voicebotCallId: leg.id },
    });
  }

  /** The dial's nested listen: the same audio endpoint and per-call credentials as the call's own listen. */
  #handOffListen(callSid: string, base: UrlBase): { listen?: HandOffListen } {
    const leg = this.#calls.get(callSid);
    if (!leg) return {};
    return {
      listen: {
        url: this.#audioUrl(base),
        sampleRate: leg.inputSampleRate,
        wsAuth: { username: leg.id, password: leg.audioToken },
        metadata: { voicebotCallId: leg.id },
      },
    };
  }

  #released(leg: JambonzCallLeg): void {
    if (this.#calls.get(leg.id) !== leg) return;
    this.#takenOver.delete(leg.id);
    // ended before its audio connected: the bot never ran, its place under the cap comes back now
    const unused = this.#waitingForAudio.get(leg.id);
    if (unused) {
      unused.release();
      this.#waitingForAudio.delete(leg.id);
      this.metrics.callsWithoutAudio.inc();
    }
    this.#calls.delete(leg.id);
    this.metrics.activeCalls.dec();
    // handed over: the call goes on, and its hooks may come back here for us to take it over again
    if (leg.detached) return;
    const timer = backgroundTimer(
      this.#clock,
      () => {
        this.#tombstones.delete(leg.id);
        this.#withPerson.delete(leg.id);
      },
      TOMBSTONE_MS,
    );
    this.#tombstones.set(leg.id, timer);
    if (leg.handedOff) this.#withPerson.add(leg.id);
  }

  /** A hook our verbs asked for (HTTP POST or WS API verb:hook / dial:confirm). Resolves with the verbs to run next. */
  async hook(
    name: string,
    payload: CallPayload,
    base: UrlBase,
    mode: ControlMode,
    /** a webhook as it arrived, which may be passed on to the instance serving the call; absent: never passed on */
    arrived?: ArrivedHook,
  ): Promise<JambonzVerb[]> {
    const hook = name.replace(/^.*\//, '');
    if (hook === HOOKS.dialConfirm) {
      // confirmHook runs on the agent's leg: its call_sid is the agent leg, parent_call_sid the caller's.
      // Its verbs run on the agent, so the answer is always empty (bridge now), never a hangup.
      const callerSid = payload.parent_call_sid ?? payload.call_sid;
      const caller = this.#calls.get(callerSid);
      // through a balancer: the instance whose transfer it is must hear of the answer (it answers [] as well)
      if (!caller) return (await this.#relay(callerSid, hook, arrived)) ?? [];
      caller.dialOutcome('answered');
      return [];
    }
    const leg = this.#calls.get(payload.call_sid);
    if (!leg) return this.#unknownCallHook(hook, payload, base, mode, arrived);
    switch (hook) {
      case HOOKS.listenEnded: {
        const next = leg.takeNextVerbs();
        if (next) return next;
        // The listen ended without the bot asking (socket dropped): reconnect the audio, unless a listen we sent
        // with a redirect is on its way (this hook is the killed listen's).
        return leg.state === 'bot' && !leg.listenPending ? [this.#listen(leg, base)] : [];
      }
      case HOOKS.dialEnded: {
        const parsed = dialOutcomeSchema.safeParse(payload);
        const status = parsed.success ? (parsed.data.dial_call_status ?? parsed.data.dial_status ?? '') : '';
        const sip = parsed.success ? parsed.data.dial_sip_status : undefined;
        const backToBot = leg.dialOutcome(dialStatusOutcome(status), statusDetail(status, sip));
        return backToBot ? [this.#listen(leg, base)] : [hangupVerb()];
      }
      default:
        this.logger.warn({ hook: name, callSid: leg.id }, 'unknown jambonz hook');
        return [];
    }
  }

  /**
   * A hook for a call this instance does not hold. With webhooks, first the instance serving it (the one the session
   * store names, see #relay) answers, if it lives: the balancer gave it to us (its listen socket dropped, or the bot
   * asked for its next verbs). A listen's actionHook for a call another instance served (its process died with the
   * audio socket) is answered by taking the call over: webhooks wait for the lease (jambonz waits 10 s for the answer)
   * and answer with a listen here; over the WS API the takeover that session:reconnect started answers with a
   * redirect, so this hook gets nothing. Anything else: hang up.
   */
  async #unknownCallHook(
    hook: string,
    payload: CallPayload,
    base: UrlBase,
    mode: ControlMode,
    arrived?: ArrivedHook,
  ): Promise<JambonzVerb[]> {
    const sid = payload.call_sid;
    if (!this.#registry || this.#tombstones.has(sid)) return [hangupVerb()];
    const relayed = mode === 'webhook' ? await this.#relay(sid, hook, arrived) : null;
    if (relayed) {
      this.logger.info({ callSid: sid, hook }, 'jambonz hook answered by the instance serving the call');
      return relayed;
    }
    if (hook !== HOOKS.listenEnded) return [hangupVerb()];
    if (mode === 'ws') return this.#adopting.has(sid) ? [] : [hangupVerb()];
    const adopted = await this.#adopt(payload, 'webhook', base);
    // the caller may have left while we waited for the lease (#endedAway records the call)
    return adopted && !this.#endedWhileAdopting.has(sid) && !adopted.ended
      ? [this.#listen(adopted, base)]
      : [hangupVerb()];
  }

  /**
   * jambonz says a call is over that this instance holds no bot for: it may be a call being taken over (here, or
   * nowhere yet: another instance served it and died, and the caller hung up during the takeover). Whichever
   * instance gets the report takes the call over as it is, ended: once its lease is free (never while a live owner
   * holds it: that owner records the call itself), the bot runs on the ended leg and writes the call's one end record
   * from the stored state. Nothing stored, or held by a live process: nothing to do.
   */
  #endedAway(sid: string, reason: string, payload: CallPayload | undefined, mode: ControlMode): void {
    const leg = this.#calls.get(sid);
    if (leg) return this.#endTakenOver(leg, reason);
    if (!this.#registry || this.#tombstones.has(sid)) return;
    const adoption = this.#adopting.get(sid) ?? (payload ? this.#adopt(payload, mode, this.urlBase({})) : undefined);
    if (!adoption) return;
    this.#endedWhileAdopting.add(sid);
    void adoption.then((adopted) => {
      this.#endedWhileAdopting.delete(sid);
      if (adopted) this.#endTakenOver(adopted, reason);
    });
  }

  /**
   * The call ended. A call taken over here whose audio never connected (the caller left during the takeover) still
   * gets its bot, on the ended leg: the call core writes the one end record from the stored state. Any other leg just
   * ends (a new call that never connected audio leaves no record, see `newCall`).
   */
  #endTakenOver(leg: JambonzCallLeg, reason: string): void {
    const permit = this.#takenOver.has(leg.id) ? this.#waitingForAudio.get(leg.id) : undefined;
    if (!permit) return leg.remoteEnded(reason);
    this.#waitingForAudio.delete(leg.id);
    leg.remoteEnded(reason);
    const log = callLogger(this.logger, leg.id);
    log.info({ reason }, 'the caller left during the takeover: recording the call from its stored state');
    void this.#supervisor.run({ leg, log, hangupReason: 'bot-finished' }, permit);
  }

  /**
   * WS API: a call's socket closed. jambonz closes with 1000 only when the call session is over (ws-requestor.js
   * `close()`, from call-session.js `_clearResources`): for a call being taken over here that is the caller's hang-up,
   * whose call:status may never have been sent (it waited behind the unacked session:reconnect).
   */
  controlClosedFor(callSid: string, socket: WebSocket, code: number): void {
    const leg = this.#calls.get(callSid);
    if (code === 1000 && (leg ? this.#takenOver.has(callSid) : this.#adopting.has(callSid)))
      return this.#endedAway(callSid, 'jambonz:session-closed', undefined, 'ws');
    leg?.controlClosed(socket);
  }

  /**
   * call-status webhook or WS API call:status. jambonz reports the dialled agent's leg to the caller's status hook
   * too (WS API: on the caller's socket, with the caller's call_sid at the top): a report with a parent_call_sid is
   * about the agent, and an agent's busy/no-answer/failed must never end the caller's call.
   */
  callStatus(report: StatusReport): void {
    const { callSid, status, parentCallSid } = report;
    const outdial = this.#outdials.get(callSid);
    if (outdial) this.#outdialStatus(outdial, report);
    else if (this.#placing > 0 && !this.#calls.has(callSid) && callStatusOutcome(status) !== null) {
      if (this.#unclaimed.size < MAX_UNCLAIMED) this.#unclaimed.set(callSid, report);
    }
    if (parentCallSid !== undefined && parentCallSid !== callSid) {
      this.logger.debug({ callSid: parentCallSid, agentCallSid: callSid, status }, 'jambonz agent leg status');
      return;
    }
    if (!ENDED_STATUSES.has(status)) return;
    this.#endedAway(callSid, `jambonz:${status}`, report.payload, report.mode ?? 'webhook');
    const timer = this.#tombstones.get(callSid);
    if (timer !== undefined) this.#clock.clearTimeout(timer);
    this.#tombstones.delete(callSid);
    this.#withPerson.delete(callSid);
  }

  /** Basic auth on the audio socket: user = call sid, password = the per-call token from our listen verb. */
  audioAuthOk(user: string, password: string): boolean {
    const leg = this.#calls.get(user);
    return leg !== undefined && safeEqual(password, leg.audioToken);
  }

  audioSocketOpened(socket: WebSocket): void {
    this.#audioSockets.add(socket);
    this.metrics.audioSockets.set(this.#audioSockets.size);
  }
  audioSocketClosed(socket: WebSocket): void {
    this.#audioSockets.delete(socket);
    this.metrics.audioSockets.set(this.#audioSockets.size);
  }
  controlSocketOpened(socket: WebSocket): void {
    this.#controlSockets.add(socket);
    this.metrics.controlSockets.set(this.#controlSockets.size);
  }
  controlSocketClosed(socket: WebSocket): void {
    this.#controlSockets.delete(socket);
    this.metrics.controlSockets.set(this.#controlSockets.size);
  }
}

/** A URL from a request, as a log may show it: its origin only (no path, query or credentials). */
function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return 'unparsable';
  }
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function createJambonzBackend(config: JambonzConfig, deps: JambonzDeps): JambonzBackend {
  return new JambonzBackend(config, deps);
}
