import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/schema.js';
import type { CallEventBus } from '../../core/call-events.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Logger } from '../../log/logger.js';
import { resample } from '../../media/resampler.js';
import type { SessionStore } from '../../session/store.js';
import type { Tts } from '../../speech/types.js';
import type { AsteriskConfig } from '../config.js';
import type { CallLeg, OriginateOptions, TelephonyBackend, TransferTarget } from '../port.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AriClient, isGone } from './ari-client.js';
import { PersistentAriTransport, ServedAriConnection } from './ari-served.js';
import { basicAuth, safeEqual } from '../../web/guard.js';
import { AriEventStream } from './ari-events.js';
import { ariChannel, type AriEvent, type AriChannel } from './ari-types.js';
import { CallSupervisor } from '../supervisor.js';
import type { Admission, Permit } from '../../core/admission.js';
import { AsteriskCall, SESSION_PREFIX, type StoredAsteriskCall } from './asterisk-call.js';
import { findReopenedCall, recordTakeover, type ReopenedCall } from './takeover.js';
import { claimLease, type ClaimOutcome } from '../../session/claim.js';
import type { LeaseStore } from '../../session/lease.js';
import { defaultInstanceId } from '../../session/owner.js';
import type { CallSession } from '../../session/store.js';
import { ChannelRouter } from './channel-router.js';
import { mediaOpener, type AsteriskCallHost } from './call-host.js';
import { asteriskMetrics, type AsteriskMetrics } from './metrics.js';
import { NoRtpPortError, RtpPortPool } from './port-pool.js';
import { resynchronise } from './resync.js';
import { dialAndWait } from './dial.js';
import { OriginateError } from '../dial-wait.js';
import { ownId, ReleaseRetrier } from './release-retry.js';
import { dialString, sipHeaderVariables } from './transfer.js';
import { deadline } from '../../core/deadline.js';
import { whenAborted } from '../../core/waiters.js';
import { VoicebotError } from '../../core/errors.js';
import type { Readiness } from '../../core/readiness.js';
import { unservedCallRecord, type CallRecordSink } from '../../core/call-record.js';
import { awaitsEndAfterHandOff } from '../../dialog/dialog-state.js';

/**
 * How long a caller found in a reopened per-call app with nothing stored may take to show its StasisStart before it
 * counts as a call whose process died before storing it (on a new call's own socket the StasisStart comes at once).
 */
const NEW_CALL_STASIS_WAIT_MS = 1000;

export interface AsteriskBackendDeps {
  logger: Logger;
  metrics: Registry;
  sessions: SessionStore;
  /** for `recording` CallEvents */
  events?: CallEventBus;
  /** speaks the recording notice (recording.announce) */
  tts?: Tts;
  /** runs the bot on a call (runCall); may also be given to start() */
  onCall?: (leg: CallLeg) => Promise<void>;
  /** how long start() waits for the first ARI connection before going on in the background (ms) */
  startTimeoutMs?: number;
  /** dial timeouts, Stasis waits and reconnect backoff run on this clock (tests: a fake one) */
  clock?: Clock;
  /** the app's concurrent-call cap: an inbound call over it is hung up before answer with SIP 503 */
  admission?: Admission;
  /** the ARI connection's state goes here as component `asterisk` (/readyz) */
  readiness?: Readiness;
  /** where the record of a call the bot could not serve goes (the CRM), like every other CallRecord */
  records?: CallRecordSink;
  /** the web server, for connection: outbound (Asterisk opens the ARI websocket at `outboundPath`) */
  web?: FastifyInstance;
  /**
   * per-call ownership leases shared by the instances (session.store: redis): a call another instance served is
   * taken over only once its lease is ours. Absent: one instance, nothing to claim.
   */
  leases?: LeaseStore;
  /** this process as a lease holder and session owner; the call core must use the same (default: host:pid) */
  instanceId?: string;
}

/** ARI refused our credentials: retrying cannot help, the config is wrong. */
export class AriCredentialsError extends VoicebotError {
  constructor(url: string) {
    super(
      `ARI at ${url} answered 401 Unauthorized: telephony.asterisk.username / telephony.asterisk.password ` +
        '(VOICEBOT_TELEPHONY__ASTERISK__PASSWORD) do not match an ari.conf user',
      { kind: 'config', fix: 'set telephony.asterisk.username and password to an ari.conf user' },
    );
  }
}

export { OriginateError } from '../dial-wait.js';

/**
 * Telephony backend over Asterisk ARI: one ARI client + event stream, calls routed by channel id, each call an
 * AsteriskCall leg handed to `onCall` (the call core). Survives websocket drops by resynchronising.
 */
export class AsteriskBackend implements TelephonyBackend {
  readonly name = 'asterisk';
  /** what each call uses from this backend */
  readonly host: AsteriskCallHost;
  readonly ports: RtpPortPool;
  readonly calls = new Map<string, AsteriskCall>();
  /** inbound: the event websocket the bot opens; null with connection: outbound */
  readonly #stream: AriEventStream | null;
  /** outbound: the persistent connection's transport (requests that belong to no single call) */
  readonly #persistent = new PersistentAriTransport();
  /** outbound: connections Asterisk opened to us */
  readonly #served = new Set<ServedAriConnection>();
  readonly #supervisor: CallSupervisor;
  readonly #deps: AsteriskBackendDeps;
  readonly #config: AsteriskConfig;
  readonly #log: Logger;
  readonly #metrics: AsteriskMetrics;
  readonly #releases: ReleaseRetrier;
  #onCall: ((leg: CallLeg) => Promise<void>) | null;
  /** calls being claimed from another instance right now (by call id): one claim per call at a time */
  readonly #claiming = new Map<string, Promise<void>>();
  /** aborted when this process stops serving calls (stop, ApplicationReplaced): a pending claim gives up */
  #claims = new AbortController();
  readonly #leaseMs: number;
  #stopping = false;
  #resyncing: Promise<void> | null = null;
  /** the last HTTP status that refused the event websocket upgrade (401: credentials) */
  #refused = 0;
  /** resynchronisations completed (start + each reconnect) */
  resyncs = 0;

  constructor(config: Config, deps: AsteriskBackendDeps) {
    const asterisk = config.telephony.asterisk;
    if (!asterisk) throw new Error('telephony.asterisk is not configured');
    this.#deps = deps;
    this.#onCall = deps.onCall ?? null;
    this.#supervisor = new CallSupervisor({
      logger: deps.logger.child({ component: 'asterisk' }),
      backend: 'asterisk',
      ...(deps.admission ? { admission: deps.admission } : {}),
    });
    const logger = deps.logger.child({ component: 'asterisk' });
    const metrics = asteriskMetrics(deps.metrics);
    const clock = deps.clock ?? systemClock;
    const outbound = asterisk.connection === 'outbound';
    const client = new AriClient({
      ...(asterisk.url ? { url: asterisk.url } : {}),
      username: asterisk.username,
      password: asterisk.password.reveal(),
      app: asterisk.app,
      requestTimeoutMs: asterisk.requestTimeoutMs,
      ...(outbound ? { transport: this.#persistent } : {}),
    });
    this.#config = asterisk;
    this.#leaseMs = config.session.leaseMs;
    this.#log = logger;
    this.#metrics = metrics;
    this.#releases = new ReleaseRetrier(
      logger,
      { minMs: asterisk.reconnectMinMs, maxMs: asterisk.reconnectMaxMs },
      clock,
    );
    this.ports = new RtpPortPool(asterisk.rtpPortMin, asterisk.rtpPortMax);
    this.host = {
      client,
      router: new ChannelRouter(clock),
      config: asterisk,
      sessions: deps.sessions,
      logger,
      clock,
      events: deps.events,
      openMedia: mediaOpener({
        ports: this.ports,
        bindHost: asterisk.rtpBindHost,
        media: config.media,
        registry: deps.metrics,
      }),
      releaseFailed: (label, step) => {
        metrics.releaseErrors.inc();
        this.#releases.retry(label, step);
      },
      transferred: (outcome) => metrics.transfers.inc({ outcome }),
      released: (id) => {
        this.calls.delete(id);
        metrics.activeCalls.set(this.calls.size);
      },
    };
    if (outbound) {
      this.#stream = null;
      if (!deps.web) throw new Error('telephony.asterisk.connection outbound needs the web server');
      this.#serve(deps.web, asterisk);
    } else {
      const stream = new AriEventStream({
        url: client.eventsUrl(),
        headers: client.authHeaders(),
        pingIntervalMs: asterisk.eventPingMs,
        logger,
        reconnectMinMs: asterisk.reconnectMinMs,
        reconnectMaxMs: asterisk.reconnectMaxMs,
        onInvalid: (type) => metrics.invalidEvents.inc({ type }),
        clock,
      });
      stream.on('event', (ev) => this.#onEvent(ev));
      stream.on('connected', ({ reconnect }) => {
        if (reconnect) metrics.reconnects.inc();
        this.#setReady(true, `connected to ${asterisk.url} as app ${asterisk.app}`);
        this.#resyncSoon(reconnect ? 'reconnect' : 'start');
      });
      stream.on('disconnected', (why) => this.#setReady(false, `ARI event websocket ${why}: reconnecting`));
      stream.on('refused', (status) => {
        this.#refused = status;
        if (status === 401) {
          const err = new AriCredentialsError(asterisk.url ?? '');
          logger.error(err.message);
          this.#setReady(false, err.message);
        } else this.#setReady(false, `ARI refused the event websocket: HTTP ${status}`);
      });
      stream.on('replaced', () => void this.#onReplaced());
      this.#stream = stream;
    }
    this.#setReady(false, 'not connected to ARI yet');
  }

  #setReady(ready: boolean, reason: string): void {
    this.#deps.readiness?.set('asterisk', ready, reason);
  }

  /**
   * Another process registered our app name: Asterisk now sends it every event, so this process can no longer
   * follow its calls. Hand them over (channels, bridges and sessions stay for the new owner to reattach) and stop
   * serving, loudly; never sit on a socket that gets nothing.
   */
  async #onReplaced(): Promise<void> {
    const app = this.#config.app;
    this.#log.error(
      { app },
      `another connection registered ARI app "${app}" (ApplicationReplaced): this process stops serving calls; ` +
        'give each bot instance its own app name, or run one',
    );
    this.#setReady(false, `ARI app "${app}" taken over by another connection (ApplicationReplaced)`);
    this.#stopping = true;
    this.#claims.abort();
    await Promise.all([...this.calls.values()].map((c) => c.detach()));
  }

  get connected(): boolean {
    return this.#stream ? this.#stream.connected : [...this.#served].some((c) => !c.closed);
  }

  // ------------------------------------------------------------------ outbound websockets (FACTS §1c)

  /**
   * connection: outbound. Asterisk opens the ARI websocket to `outboundPath` (Basic auth with our ARI credentials,
   * subprotocol `ari`), persistent (app `voicebot`, many calls) or one per call (app `voicebot:<channel>`). Each
   * connection carries its calls' events and their ARI requests (RESTRequest), so the bot never needs Asterisk's
   * HTTP port and a load balancer in front of several bots spreads calls.
   */
  #serve(web: FastifyInstance, config: AsteriskConfig): void {
    const auth = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const creds = basicAuth(req.headers.authorization);
      if (creds && safeEqual(creds.user, config.username) && safeEqual(creds.password, config.password.reveal()))
        return undefined;
      this.#log.warn({ ip: req.ip }, 'ARI websocket upgrade without valid credentials refused');
      return reply.code(401).header('www-authenticate', 'Basic realm="voicebot"').send();
    };
    // Draining or stopping: refuse the upgrade itself. Asterisk counts a refused upgrade as a failed attempt and
    // tries again on a new connection (ast_websocket_client_connect: reconnect_attempts, reconnect_interval apart),
    // which a load balancer sends to another instance; after the last attempt the call goes on in the dialplan
    // (STASISSTATUS=FAILED). An upgrade taken and then closed would count as connected: the call would be lost.
    // An upgrade let through is the call's admission: Asterisk counts the call as connected from then on, so a drain
    // that begins before its StasisStart arrives must not refuse it (closing or hanging up now would lose it).
    const letThrough = new WeakSet<FastifyRequest>();
    const serving = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const refusal = this.#refusal();
      if (!refusal) return void letThrough.add(req);
      this.#log.info({ ip: req.ip, refusal }, 'ARI websocket upgrade refused: not taking calls');
      return reply.code(503).header('retry-after', '1').send();
    };
    web.get(config.outboundPath, { websocket: true, preValidation: [auth, serving] }, (socket, req) => {
      const refusal = this.#refusal();
      const admitted = letThrough.has(req);
      if (refusal && !(refusal === 'draining' && admitted)) return void socket.close(1013, 'not serving');
      const conn = new ServedAriConnection(socket, {
        logger: this.#log,
        pingIntervalMs: config.eventPingMs,
        onInvalid: (type) => this.#metrics.invalidEvents.inc({ type }),
      });
      this.#served.add(conn);
      conn.once('app', (app) => this.#onServed(conn, app, admitted));
      conn.once('close', () => this.#served.delete(conn));
    });
  }

  /**
   * A served connection named its app: the persistent one shares the backend's host, a per-call one gets its own
   * client. `admitted`: its upgrade was let through while this instance took calls (a drain since does not refuse
   * the per-call one's caller).
   */
  #onServed(conn: ServedAriConnection, app: string, admitted: boolean): void {
    const config = this.#config;
    const persistent = app === config.app;
    const host: AsteriskCallHost = persistent
      ? this.host
      : {
          ...this.host,
          client: new AriClient({
            ...(config.url ? { url: config.url } : {}),
            username: config.username,
            password: config.password.reveal(),
            app,
            requestTimeoutMs: config.requestTimeoutMs,
            transport: conn,
          }),
          // a step that failed on this connection can only be retried on it, while it is open
          releaseFailed: (label, step) => {
            this.#metrics.releaseErrors.inc();
            this.#releases.retry(label, step, () => !conn.closed);
          },
          released: (id) => {
            const call = this.calls.get(id);
            this.host.released(id);
            // a call this process let go of goes on: closing its socket makes Asterisk reopen it (to whichever
            // instance the balancer picks), and that instance takes the call over from the store
            if (call?.detached) conn.close();
          },
        };
    this.#log.info({ app, persistent }, 'ARI websocket from Asterisk connected');
    const drainExempt = admitted && !persistent;
    conn.on('event', (ev) => this.#onEvent(ev, host, drainExempt));
    conn.once('close', () => {
      this.#log.info({ app }, 'ARI websocket from Asterisk closed');
      if (persistent && this.#persistent.current === conn) this.#persistent.current = null;
      // without its connection a call can neither hear events nor send requests: let go of it here (Asterisk
      // reopens a per-call socket, possibly to another instance, while the call is still in Stasis)
      for (const call of this.calls.values()) if (call.host === host && !call.ended) void call.detach();
    });
    if (!persistent) {
      // the caller by name (the app is `<app>:<channel name>`), from the events queued while the socket was down:
      // a caller who hung up in the gap is no longer among the app's channels, but its call must still be finished
      const callerName = app.slice(config.app.length + 1);
      const named = new Set<string>();
      conn.on('event', (ev) => {
        const channel = ev.type === 'Dial' ? ev.peer : 'channel' in ev ? (ev.channel as AriChannel) : null;
        if (channel?.name === callerName) named.add(channel.id);
      });
      void this.#adoptReopened(host, app, named);
    }
    if (persistent) {
      const reconnect = this.#persistent.current !== null || this.resyncs > 0;
      this.#persistent.current = conn;
      if (reconnect) this.#metrics.reconnects.inc();
      this.#resyncSoon(reconnect ? 'reconnect' : 'start');
    }
  }

  async start(onCall?: (call: CallLeg) => Promise<void>, signal?: AbortSignal): Promise<void> {
    if (onCall) this.#onCall = onCall;
    if (!this.#onCall) throw new Error('AsteriskBackend.start: no onCall handler');
    this.#stopping = false;
    if (this.#claims.signal.aborted) this.#claims = new AbortController();
    this.#supervisor.start(this.#onCall);
    this.#releases.start();
    if (!this.#stream) {
      this.#setReady(true, `accepting ARI websockets from Asterisk at ${this.#config.outboundPath}`);
      return;
    }
    // a 401 ends the wait at once: no retry can fix wrong credentials
    const refusal = new AbortController();
    const parent = signal ? AbortSignal.any([signal, refusal.signal]) : refusal.signal;
    const limit = deadline(this.#deps.startTimeoutMs ?? 5000, parent);
    const onRefused = (status: number) => {
      if (status === 401) refusal.abort(new AriCredentialsError(this.#config.url ?? ''));
    };
    const stream = this.#stream;
    stream.on('refused', onRefused);
    try {
      await stream.start(limit.signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      if (err instanceof AriCredentialsError) {
        await stream.stop();
        throw err;
      }
      this.#log.warn(
        { url: this.#config.url, lastRefusal: this.#refused || undefined },
        'ARI not reachable yet; still trying in the background',
      );
    } finally {
      stream.off('refused', onRefused);
      limit.dispose();
    }
  }

  /**
   * Stop taking calls. By default every call is ended; with `handOver` the calls stay up on Asterisk (channels,
   * bridge, session entry) so the next instance sharing the session store reattaches them after its resync.
   */
  async stop(opts: { handOver?: boolean } = {}): Promise<void> {
    this.#stopping = true;
    this.#claims.abort();
    await this.#stream?.stop();
    this.#deps.readiness?.delete('asterisk');
    const calls = [...this.calls.values()];
    await Promise.all(
      // a caller already talking to an agent is never cut off by a bot shutdown
      calls.map((c) =>
        opts.handOver || c.agentChannelId ? c.detach() : c.end('backend stopping', { hangupCaller: true }),
      ),
    );
    // call handlers see the hangup and return; bound the wait so one stuck handler cannot block shutdown
    await this.#supervisor.stop();
    await this.#resyncing;
    await Promise.all(this.#claiming.values());
    // what is still failing is swept by the next instance's resync (ids are ours by prefix)
    this.#releases.stop();
    // outbound: the calls' requests went over these, so they close last
    for (const conn of this.#served) conn.close();
  }

  /** Resolves once a resync after (re)connect has finished (tests, health). */
  async settled(): Promise<void> {
    await this.#resyncing;
    await Promise.all(this.#claiming.values());
  }

  // ------------------------------------------------------------------ events

  /** `drainExempt`: a per-call connection accepted before a drain began (its caller is admitted even while draining). */
  #onEvent(ev: AriEvent, host: AsteriskCallHost = this.host, drainExempt = false): void {
    if (this.host.router.dispatch(ev)) return;
    if (ev.type === 'StasisStart') this.#onStasisStart(ev.channel, host, drainExempt);
  }

  #onStasisStart(ch: AriChannel, host: AsteriskCallHost, drainExempt = false): void {
    const log = this.#log;
    if (this.host.router.isOwn(ch.id)) return;
    // our own media/agent channels are claimed by id before creation; a UnicastRTP channel we did not create
    // (another instance's, or one from before a restart) is never a caller
    if (ch.name.startsWith('UnicastRTP/'))
      return void log.debug({ channelId: ch.id }, 'foreign UnicastRTP channel ignored');
    const admitted = this.#stopping ? 'stopping' : this.#supervisor.admit({ evenWhenDraining: drainExempt });
    if (typeof admitted === 'string') return this.#refuse(ch, host, admitted);
    const call = new AsteriskCall(host, ch, 'inbound');
    this.#track(
      call,
      async () => {
        await call.setup({ answer: ch.state !== 'Up' });
      },
      admitted,
    );
  }

  /** Why a new call would be refused now (null: take it): stopping, not started, or draining (admission closed). */
  #refusal(): string | null {
    if (this.#stopping) return 'stopping';
    if (!this.#supervisor.started) return 'not-started';
    if (this.#deps.admission?.closed) return 'draining';
    return null;
  }

  /**
   * A call this instance will not take. With `refusedCallGoto` it goes on in the dialplan (ARI continue: the
   * caller reaches the fallback there). Otherwise reason=congestion, cause 34, which chan_pjsip answers an
   * unanswered INVITE with as 503 Service Unavailable (hangup_cause2sip): the carrier or proxy may try another route.
   */
  #refuse(ch: AriChannel, host: AsteriskCallHost, refusal: string): void {
    const log = this.#log.child({ channelId: ch.id, refusal });
    const goto = this.#config.refusedCallGoto;
    const congestion = () => host.client.hangup(ch.id, 'congestion');
    if (!goto) {
      log.warn('call refused: hanging up with congestion');
      return void congestion().catch(() => undefined);
    }
    const [context = '', extension = '', priority = '1'] = goto.split(',');
    log.warn({ goto }, 'call refused: it continues in the dialplan');
    host.client
      .continueInDialplan(ch.id, { context, extension, priority: Number(priority) })
      .catch((err: unknown) => {
        // never leave the caller in Stasis with nobody serving it
        log.error({ err: errText(err) }, 'ARI continue failed: hanging up with congestion');
        return congestion();
      })
      .catch(() => undefined);
  }

  /** Set up and run one call; its failures end that call only. Its place under the cap comes back when it ends. */
  #track(
    call: AsteriskCall,
    setup: () => Promise<void>,
    permit?: Permit,
    /** takenOver: another process announced and recorded the call; watchOnly: no bot on it, only its end */
    opts: { takenOver?: boolean; watchOnly?: boolean } = {},
  ): void {
    this.calls.set(call.id, call);
    this.#metrics.activeCalls.set(this.calls.size);
    void this.#supervisor.run(
      {
        leg: call,
        log: call.log,
        setup: async () => {
          try {
            await setup();
          } catch (err) {
            const noPort = err instanceof NoRtpPortError;
            this.#metrics.calls.inc({ direction: call.direction, result: noPort ? 'no-rtp-port' : 'setup-failed' });
            if (!call.ended) {
              // refused before answering when no port is free: the caller hears congestion; a record still goes out
              await call.end('setup failed', { hangupCaller: true, hangupReason: noPort ? 'congestion' : 'normal' });
              await this.#recordUnserved(call, noPort ? `no free RTP port (${errText(err)})` : errText(err));
            }
            throw err;
          }
          this.#metrics.calls.inc({ direction: call.direction, result: 'connected' });
        },
        serve: async (onCall) => {
          if (opts.watchOnly) return whenAborted(call.signal);
          // a call taken over was announced and is recorded already (the bridge recording goes on)
          if (!opts.takenOver) {
            await this.#announceRecording(call);
            await call
              .startRecording()
              .catch((err: unknown) => call.log.warn({ err: errText(err) }, 'recording not started'));
          }
          await onCall(call);
        },
        hangupReason: 'bot finished',
      },
      permit,
    );
  }

  /** A caller the bot could not serve still leaves a CallRecord (and so a ticket): never lost silently. */
  async #recordUnserved(call: AsteriskCall, reason: string): Promise<void> {
    const record = unservedCallRecord({
      callId: call.id,
      backend: this.name,
      phone: call.from,
      calledNumber: call.to,
      direction: call.direction,
      startedAt: call.startedAt,
      reason,
    });
    this.#deps.events?.publish({ type: 'call-ended', callId: call.id, record });
    await this.#deps.records
      ?.submit('end', record)
      .catch((err: unknown) => call.log.error({ err: errText(err) }, 'record of the unserved call not submitted'));
  }

  async #announceRecording(call: AsteriskCall): Promise<void> {
    const rec = this.#config.recording;
    if (!rec.enabled || !rec.announce || call.ended) return;
    const tts = this.#deps.tts;
    if (!tts) return void call.log.warn('recording.announce is on but no TTS was given: notice not spoken');
    for await (const chunk of tts.synthesize(rec.notice, { signal: call.signal })) {
      call.sendAudio(chunk.sampleRate === 8000 ? chunk.pcm : resample(chunk.pcm, chunk.sampleRate, 8000));
    }
    await call.waitForPlayout(AbortSignal.timeout(30_000));
  }

  // ------------------------------------------------------------------ resync

  #resyncSoon(why: string): void {
    const previous = this.#resyncing ?? Promise.resolve();
    this.#resyncing = previous
      .then(() =>
        // calls taken over count under the cap too (over it, the pool refuses their VAD); the claims run on their
        // own (a dead holder's lease takes up to one lease length to run out) and settled() waits for them
        resynchronise(this.host, this.calls, (stored) => void this.takeOver(stored, this.host), why),
      )
      .catch((err: unknown) => this.#log.error({ err: errText(err) }, 'ARI resync failed'))
      .finally(() => this.resyncs++);
  }

  // ------------------------------------------------------------------ takeover

  /** A per-call websocket opened: if it was reopened for a call another instance served, take that call over. */
  async #adoptReopened(host: AsteriskCallHost, app: string, named: Set<string>): Promise<void> {
    try {
      const isLocal = (id: string) => this.calls.has(id) || this.#claiming.has(id);
      const found = await findReopenedCall(host, app, isLocal, named);
      if (found.stored) await this.takeOver(found.stored, host, { callerLeft: found.callerLeft });
      else if (found.unstored.length === 1) await this.#startUnstored(found.unstored[0]!, found.leftovers, host);
    } catch (err) {
      this.#log.warn({ app, err: errText(err) }, 'could not tell which call a reopened ARI websocket carries');
    }
  }

  /**
   * A caller in a reopened per-call app with nothing stored: a new call whose StasisStart is on its way, or one
   * whose process died in its first moments (before setup stored it). Asterisk never sends StasisStart again, so
   * once none came (`NEW_CALL_STASIS_WAIT_MS`) the call is claimed and started afresh, greeting included: a caller
   * is never left in silence (over the cap: the refusal, `refusedCallGoto` or congestion). What the dead process
   * left in the app (its bridge, its media leg) goes first.
   */
  async #startUnstored(callerId: string, leftovers: ReopenedCall['leftovers'], host: AsteriskCallHost): Promise<void> {
    const isNew = await host.router.waitForStasis(callerId, NEW_CALL_STASIS_WAIT_MS, this.#claims.signal).then(
      () => true,
      () => false,
    );
    if (isNew || this.calls.has(callerId) || this.#claiming.has(callerId) || this.#stopping) return;
    const start = this.#restartUnstored(callerId, leftovers, host).finally(() => this.#claiming.delete(callerId));
    this.#claiming.set(callerId, start);
    await start;
  }

  async #restartUnstored(
    callerId: string,
    leftovers: ReopenedCall['leftovers'],
    host: AsteriskCallHost,
  ): Promise<void> {
    const log = this.#log.child({ callId: callerId });
    const owner = this.#deps.instanceId ?? defaultInstanceId;
    const outcome = await this.#claim(callerId, owner);
    if (outcome !== 'claimed') return void log.warn({ outcome }, 'unstored call not started');
    const letGo = () => this.#deps.leases?.release(callerId, owner).catch(() => false);
    // stored after all (its process was slow, not dead): that is a takeover
    const stored = await this.#deps.sessions.get(SESSION_PREFIX + callerId).catch(() => undefined);
    if (stored) return void (await this.#takeOverStored(callerId, stored, host));
    for (const id of leftovers.channels) await quietly(`DELETE channel ${id}`, () => host.client.hangup(id));
    for (const id of leftovers.bridges) await quietly(`DELETE bridge ${id}`, () => host.client.destroyBridge(id));
    let caller: AriChannel;
    try {
      caller = await host.client.getChannel(callerId);
    } catch (err) {
      await letGo();
      return void log.info({ err: errText(err) }, 'unstored call not started: the caller is gone');
    }
    if (host.router.departed(callerId)) return void (await letGo());
    const admitted = this.#stopping ? 'stopping' : this.#supervisor.admit();
    if (typeof admitted === 'string') {
      await letGo();
      return this.#refuse(caller, host, admitted);
    }
    log.warn({ leftovers }, 'call started afresh: its process died before it stored anything');
    const call = new AsteriskCall(host, caller, 'inbound');
    this.#track(call, () => call.setup({ answer: caller.state !== 'Up' }), admitted);
  }

  /** Claim `callId`'s lease (no lease store: ours at once); a dead holder's runs out within one lease length. */
  async #claim(callId: string, owner: string): Promise<ClaimOutcome | 'stopped'> {
    const leases = this.#deps.leases;
    if (!leases) return 'claimed';
    return claimLease({
      store: leases,
      callId,
      owner,
      ttlMs: this.#leaseMs,
      // a dead holder's lease runs out within one lease length; a live one that lost its connection notices
      // within two pings and lets go
      maxWaitMs: this.#leaseMs + 2 * this.#config.eventPingMs,
      clock: this.host.clock,
      signal: this.#claims.signal,
    }).catch(() => 'stopped' as const);
  }

  /**
   * Take over a stored call another instance served, over `host`'s ARI connection (a resync and a reopened per-call
   * socket come here). One claim per call at a time here, one winner across instances; `settled()` and `stop()`
   * wait for them.
   */
  takeOver(
    stored: CallSession,
    host: AsteriskCallHost = this.host,
    /** callerLeft: the caller is no longer in the call's app (it may still be up elsewhere): the call is over */
    opts: { callerLeft?: boolean } = {},
  ): Promise<void> {
    const callId = stored.callId.slice(SESSION_PREFIX.length);
    const running = this.#claiming.get(callId);
    if (running || this.calls.has(callId) || this.#stopping) return running ?? Promise.resolve();
    const claim = this.#takeOverStored(callId, stored, host, opts.callerLeft === true).finally(() =>
      this.#claiming.delete(callId),
    );
    this.#claiming.set(callId, claim);
    return claim;
  }

  /**
   * A call another instance served (it died, or let go): once its lease is ours (the moment a dead holder's runs
   * out; never while a live one renews it), build a media leg of our own into the caller's bridge, hang up the old
   * one, name ourselves the owner in the store, and run the bot on it: the call core resumes from the store.
   */
  async #takeOverStored(
    callId: string,
    stored: CallSession,
    host: AsteriskCallHost,
    callerLeft = false,
  ): Promise<void> {
    const owner = this.#deps.instanceId ?? defaultInstanceId;
    const log = this.#log.child({ callId });
    const leases = this.#deps.leases;
    const outcome = await this.#claim(callId, owner);
    if (outcome !== 'claimed') {
      return void log.warn({ outcome, previousOwner: stored.owner || null }, 'call not taken over');
    }
    const letGo = () => leases?.release(callId, owner).catch(() => false);
    // read again now that the call is ours: the old owner may have written its last state while we waited
    const current = await this.#deps.sessions.get(stored.callId).catch(() => undefined);
    const ids = (current ?? stored).backendData as unknown as StoredAsteriskCall;
    const agentChannelId = ids.agentChannelId;
    if (current && agentChannelId && !this.#stopping)
      return this.#adoptHandedOff(callId, current, { ...ids, agentChannelId }, host, owner, letGo);
    if (!current || this.#stopping) {
      await letGo();
      return void log.info('nothing to take over');
    }
    let caller: AriChannel | null = null;
    try {
      caller = await host.client.getChannel(ids.callerChannelId);
    } catch (err) {
      if (!isGone(err)) {
        await letGo();
        return void log.warn({ err: errText(err) }, 'call not taken over: Asterisk did not answer');
      }
    }
    const call = storedCall(host, ids, caller, current.phone);
    // from here every event of the caller reaches the call, and whatever ends it releases the bridge and the old legs
    call.adopt(ids);
    // a caller who hung up after Asterisk answered getChannel was told by an event nobody was routed for
    const callerGone = callerLeft || !caller || host.router.departed(ids.callerChannelId);
    log.info({ previousOwner: current.owner || null, callerGone, callerLeft }, 'taking the call over');
    const takeOver = async () => {
      try {
        if (callerGone) throw new Error('the caller hung up while the call was claimed');
        await call.takeOver();
        if (!(await recordTakeover(this.#deps.sessions, call, owner))) throw new Error('session store refused');
      } catch (err) {
        if (!callerGone && !call.ended) {
          await letGo();
          throw err;
        }
        // the caller left during the takeover: the release stops the bridge recording, hangs up what the old
        // process left on Asterisk and the bridge; the call core gets an ended leg and writes the call's one end
        // record from the stored state
        await call.end('caller hung up during the takeover', { hangupCaller: false });
      }
    };
    this.#track(call, takeOver, this.#takeOverPermit(), { takenOver: true });
  }

  /**
   * A call the old process had handed to a person: the caller and the agent talk on and nobody speaks to them. This
   * instance takes over its bookkeeping: it hangs up what the old bot held, watches both people and at the end
   * releases the rest (the other person, the bridge, the recording). Where the old process still owed the call's end
   * record (it listened on after the hand-off, agentStaysSilent), the call core runs on the call and writes it at the
   * end; otherwise that record went out at the hand-off and only the clean-up is left (the lease goes at once: there
   * is nothing for two instances to write twice).
   */
  async #adoptHandedOff(
    callId: string,
    stored: CallSession,
    ids: StoredAsteriskCall & { agentChannelId: string },
    host: AsteriskCallHost,
    owner: string,
    letGo: () => Promise<unknown> | undefined,
  ): Promise<void> {
    const log = this.#log.child({ callId });
    const owesRecord = awaitsEndAfterHandOff(await this.#deps.sessions.get(callId).catch(() => undefined));
    const up = (id: string) =>
      host.client.getChannel(id).then(
        (ch) => ch,
        (err: unknown) => (isGone(err) ? null : ariChannel.parse({ id })), // not answering: assume it is still up
      );
    const caller = await up(ids.callerChannelId);
    const call = storedCall(host, ids, caller, stored.phone);
    log.info({ previousOwner: stored.owner || null, owesRecord, callerGone: !caller }, 'taking over a handed-off call');
    if (!owesRecord) await letGo();
    const adopt = async () => {
      try {
        await call.adoptHandOff(ids);
        if (!(await recordTakeover(this.#deps.sessions, call, owner))) throw new Error('session store refused');
      } catch (err) {
        // never cut the caller and the agent off: let go as we found it, for the next instance
        await letGo();
        await call.detach();
        throw err;
      }
      // a hang-up while nobody watched (its events went to the socket before we listened)
      const agent = await up(ids.agentChannelId);
      if (!caller || !agent)
        await call.end(`${caller ? 'agent' : 'caller'} hung up during the takeover`, { hangupCaller: true });
    };
    this.#track(call, adopt, this.#takeOverPermit(), { takenOver: true, watchOnly: !owesRecord });
  }

  // ------------------------------------------------------------------ outbound

  /**
   * Call `target`, wait until it answers, then run the bot on it like an inbound call. Resolves with the call id;
   * rejects with OriginateError when the callee is busy, does not answer or cannot be reached.
   */
  async originate(target: TransferTarget, options: OriginateOptions = {}): Promise<string> {
    if (!this.#supervisor.started) throw new Error('backend not started');
    const admitted = this.#supervisor.admit();
    if (typeof admitted === 'string') throw new OriginateError('failed', `not placed: ${admitted}`);
    try {
      return await this.#originate(target, options, admitted);
    } catch (err) {
      admitted.release();
      throw err;
    }
  }

  /** A place under the cap for a call already up (taken over); none when full. */
  #takeOverPermit(): Permit | undefined {
    const admitted = this.#supervisor.admit();
    return typeof admitted === 'string' ? undefined : admitted;
  }

  async #originate(target: TransferTarget, options: OriginateOptions, permit: Permit): Promise<string> {
    const { client, router } = this.host;
    const config = this.#config;
    const channelId = ownId('out', config.app, randomUUID());
    const endpoint = dialString(target, config.dialTemplates);
    const callerId = options.callerId ?? config.outboundCallerId;
    const signal = options.signal ?? new AbortController().signal;
    const result = await dialAndWait(
      {
        client,
        router,
        clock: this.host.clock,
        stasisTimeoutMs: config.stasisTimeoutMs,
        watch: (id, listener) => {
          router.claim(id, listener);
          return () => router.release(id);
        },
      },
      {
        channelId,
        endpoint,
        timeoutSec: target.timeoutSec,
        variables: { ...(options.headers ? sipHeaderVariables(options.headers) : {}), ...outboundCallerId(callerId) },
      },
      signal,
    );
    if (result.outcome !== 'answered' || !result.channel) {
      this.#metrics.calls.inc({ direction: 'outbound', result: result.outcome });
      await client.hangup(channelId).catch(() => undefined);
      throw new OriginateError(result.outcome, result.detail);
    }
    const call = new AsteriskCall(this.host, result.channel, 'outbound', { from: callerId ?? '', to: target.address });
    router.markStarted(channelId);
    this.#track(call, () => call.setup({ answer: false }), permit);
    return call.id;
  }
}

/**
 * Caller id for an outbound call: channels/create has no callerId parameter (FACTS §1b). chan_pjsip builds the
 * INVITE's From and P-Asserted-Identity from the channel's connected line, so that is what we set.
 */
function outboundCallerId(callerId: string | undefined): Record<string, string> {
  return callerId ? { 'CONNECTEDLINE(num)': callerId, 'CALLERID(num)': callerId } : {};
}

export function createAsteriskBackend(config: Config, deps: AsteriskBackendDeps): AsteriskBackend {
  return new AsteriskBackend(config, deps);
}

/** A call another process served, as the store describes it: its caller's channel (or only its id: gone). */
function storedCall(host: AsteriskCallHost, ids: StoredAsteriskCall, caller: AriChannel | null, phone: string) {
  return new AsteriskCall(host, caller ?? ariChannel.parse({ id: ids.callerChannelId }), ids.direction ?? 'inbound', {
    from: phone,
    to: ids.to ?? '',
  });
}

/** A cleanup request whose failure changes nothing (gone already, or left for the next resync's sweep). */
async function quietly(_label: string, run: () => Promise<unknown>): Promise<void> {
  await run().catch(() => undefined);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
