import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { callLogger, type Logger } from '../../log/logger.js';
import type { CallSession } from '../../session/store.js';
import type { CallLeg, Party, TransferRequest, TransferResult } from '../port.js';
import { CallLegBase } from '../call-leg-base.js';
import { AriError, isGone } from './ari-client.js';
import type { AriChannel, AriEvent } from './ari-types.js';
import type { AsteriskCallHost, MediaLease } from './call-host.js';
import type { MediaLink } from './media-link.js';
import { hostPort, PartyTap, unicastRemote } from './party-tap.js';
import { BridgeRecorder } from './recording.js';
import { ownId } from './release-retry.js';
import { transferToAgent } from './transfer.js';

export const SESSION_PREFIX = 'asterisk:';
/** endReason of a call this process let go of while it goes on (detach) */
const HANDED_OVER = 'handed over';

/** Where the call's media lives on the Asterisk side (kept in the session store for resync/reattach). */
export interface AsteriskCallIds {
  callerChannelId: string;
  bridgeId: string;
  mediaChannelId: string;
  rtpPort: number;
  /** UNICASTRTP_LOCAL_ADDRESS:PORT */
  remote: { address: string; port: number } | null;
}

/** A call as the session store keeps it (`backendData`): where it lives on Asterisk and who may serve it. */
export interface StoredAsteriskCall extends AsteriskCallIds {
  direction?: 'inbound' | 'outbound';
  to?: string;
  agentChannelId?: string | null;
  /** the Stasis app the caller is in: the connection that carries it serves the call (`voicebot:<channel>` per call) */
  app?: string;
  /** the post-hand-off taps' snoop and externalMedia channels, and their bridges (a takeover hangs them up) */
  tapChannels?: string[];
  tapBridges?: string[];
  /** the bridge recording's name: it outlives the process that started it, whoever ends the call finishes it */
  recording?: string | null;
}

/**
 * Hang up what a (dead or departed) bot process held for a call on Asterisk: its externalMedia leg and its post-hand-off
 * taps (snoops, their legs and bridges). The caller, the bridge and an agent stay. `step` runs each request.
 */
export async function releaseBotLegs(
  client: AsteriskCallHost['client'],
  stored: StoredAsteriskCall,
  step: (label: string, run: () => Promise<unknown>) => Promise<void>,
): Promise<void> {
  for (const id of [stored.mediaChannelId, ...(stored.tapChannels ?? [])])
    await step(`DELETE channel ${id}`, () => client.hangup(id));
  for (const id of stored.tapBridges ?? []) await step(`DELETE bridge ${id}`, () => client.destroyBridge(id));
}

/**
 * One caller on Asterisk, as a CallLeg: caller channel + mixing bridge + externalMedia channel + one RTP socket.
 * Everything it acquires is released exactly once, whoever ends the call (caller, bot, ARI outage, error).
 */
export class AsteriskCall extends CallLegBase implements CallLeg {
  readonly backend = 'asterisk';
  readonly inputSampleRate = 8000 as const;
  readonly outputSampleRate = 8000 as const;
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly ids: AsteriskCallIds;
  readonly log: Logger;
  readonly startedAt = new Date();
  #media: MediaLease | null = null;
  #recorder: BridgeRecorder | null = null;
  /** agent answered: caller and agent talk in the bridge; the bot no longer owns the line */
  #agentChannelId: string | null = null;
  #botLeft = false;
  /** agentStaysSilent after the answer: the bot's leg stays muted; each person is heard through a tap of their own */
  #taps: PartyTap[] = [];
  #listening = false;
  /** setup (or reattach) finished: only then may a resync judge the call by Asterisk's lists */
  #ready = false;
  /** what the process that served the call before left on Asterisk, until the takeover has hung it up */
  #inherited: StoredAsteriskCall | null = null;
  readonly #channelEvents = new EventEmitter();
  readonly #watched = new Set<string>();

  constructor(
    readonly host: AsteriskCallHost,
    caller: AriChannel,
    readonly direction: 'inbound' | 'outbound',
    parties?: { from: string; to: string },
  ) {
    super();
    this.id = caller.id;
    this.from = parties?.from ?? (caller.caller.number || caller.caller.name);
    this.to = parties?.to ?? caller.dialplan?.exten ?? '';
    this.ids = {
      callerChannelId: caller.id,
      bridgeId: ownId('bridge', host.config.app, randomUUID()),
      mediaChannelId: ownId('media', host.config.app, randomUUID()),
      rtpPort: 0,
      remote: null,
    };
    this.log = callLogger(host.logger, this.id, { backend: 'asterisk' });
    host.router.route(caller.id, (ev) => this.#onCallerEvent(ev));
    this.#channelEvents.setMaxListeners(0);
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** this process let go of the call, which goes on without it (hand-over, takeover by another instance) */
  get detached(): boolean {
    return this.endReason === HANDED_OVER;
  }

  get botLeft(): boolean {
    return this.#botLeft;
  }

  get agentChannelId(): string | null {
    return this.#agentChannelId;
  }

  /** channels and bridges the post-hand-off taps hold on Asterisk (resync must not sweep them) */
  get tapIds(): string[] {
    return this.#taps.flatMap((t) => t.ids);
  }

  /** The bot's own leg hears the bridge's mix; once the taps listen, the call core hears them instead. */
  readonly #onLinkAudio = (frame: Int16Array, at: number): void => {
    if (!this.#listening) this.emit('audio', frame, at);
  };

  get mediaStats(): MediaLink['stats'] | null {
    return this.#media?.link.stats ?? null;
  }

  // ------------------------------------------------------------------ setup

  /** Answer, bridge, externalMedia, wait for its StasisStart, add it, start the paced RTP stream. */
  async setup(opts: { answer: boolean; signal?: AbortSignal }): Promise<void> {
    const { client } = this.host;
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.signal]) : this.signal;
    const { callerChannelId, bridgeId } = this.ids;
    // the RTP port first: with the range exhausted the call is refused before it is answered (the caller hears
    // congestion, not an answered call that drops a moment later)
    const link = await this.#openMedia(signal);
    if (opts.answer) await client.answer(callerChannelId, signal);
    await client.createBridge(bridgeId, signal);
    await client.addChannel(bridgeId, callerChannelId, signal);
    await this.#joinMedia(link, signal);
    await this.saveSession('greeting');
    this.log.info({ bridgeId, rtpPort: this.ids.rtpPort, remote: this.ids.remote }, 'call media up');
  }

  /**
   * Make this the call another process served (it died, or let go), right after construction and before anything
   * can end it: from here on this call owns the caller's bridge (whatever ends the call deletes it) and what the
   * old process left there (its media leg and taps: hung up by takeOver, or by the release if the call ends first).
   */
  adopt(stored: StoredAsteriskCall): void {
    this.ids.bridgeId = stored.bridgeId;
    this.#inherited = stored;
    // the bridge recording the old process started goes on: whoever ends the call stops and saves it
    this.adoptRecording(stored);
  }

  /**
   * Take over the adopted call: the caller and its bridge are still up on Asterisk; the old process's externalMedia
   * leg points at a socket that is gone. Build a leg of our own (a port from our range, a new externalMedia channel)
   * into the caller's bridge, then hang up the old leg and whatever else the old process held for the call (taps).
   * The caller hears nothing from either in between.
   */
  async takeOver(): Promise<void> {
    const stored = this.#inherited;
    if (!stored) throw new Error('takeOver() needs adopt() first');
    await this.#joinMedia(await this.#openMedia(this.signal), this.signal);
    await releaseBotLegs(this.host.client, stored, (label, step) => this.#quietly(label, step));
    this.#inherited = null;
    this.log.info(
      { bridgeId: stored.bridgeId, rtpPort: this.ids.rtpPort, replaced: stored.mediaChannelId },
      'call taken over: our media leg is in the caller bridge',
    );
  }

  /**
   * Take over a call another process had handed to a person (it died, or let go, while the caller and the agent
   * talk): nobody is spoken to. Watch both people for the end (whoever hangs up first, the other goes too, then the
   * bridge; see #release), finish the recording at the end, and hang up what the old process held (its muted leg,
   * its taps). Where it listened to the two parties (agentStaysSilent), tap them again: the transcript goes on.
   */
  async adoptHandOff(stored: StoredAsteriskCall & { agentChannelId: string }): Promise<void> {
    const agent = stored.agentChannelId;
    this.ids.bridgeId = stored.bridgeId;
    this.#agentChannelId = agent;
    this.#botLeft = true;
    this.host.router.claim(agent, (ev) => this.#onAgentEvent(ev));
    this.adoptRecording(stored);
    await releaseBotLegs(this.host.client, stored, (label, step) => this.#quietly(label, step));
    if ((stored.tapChannels ?? []).length > 0) {
      try {
        await this.#tap(agent, this.signal);
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not tap the hand-off again');
        await this.#releaseTaps();
      }
    }
    this.#ready = true;
    this.log.info(
      { bridgeId: stored.bridgeId, agentChannelId: agent, taps: this.tapIds },
      'handed-off call taken over',
    );
  }

  /** Lease an RTP port (the first step of setup and takeover). */
  async #openMedia(signal: AbortSignal): Promise<MediaLink> {
    const media = await this.host.openMedia(signal);
    if (this.ended) {
      // the caller left while the port was bound: release() has already run without it
      await media.close();
      throw new Error('call ended during setup');
    }
    return this.#useMedia(media);
  }

  /** externalMedia to our port, wait for its StasisStart, add it to the call's bridge, start the paced stream. */
  async #joinMedia(link: MediaLink, signal: AbortSignal): Promise<void> {
    const { client, router, config } = this.host;
    const { mediaChannelId } = this.ids;
    router.claim(mediaChannelId, (ev) => this.#onMediaEvent(ev));
    // registered before the request: the reply comes before the channel's StasisStart, but never trust order
    const inStasis = router.waitForStasis(mediaChannelId, config.stasisTimeoutMs, signal);
    inStasis.catch(() => undefined); // observed below; avoid an unhandled rejection if externalMedia fails first
    const channel = await client.externalMedia(
      { channelId: mediaChannelId, externalHost: hostPort(config.rtpHost, this.ids.rtpPort), format: 'ulaw' },
      signal,
    );
    this.ids.remote = unicastRemote(channel);
    await inStasis;
    await this.addToBridge(mediaChannelId, signal);
    link.connect(this.ids.remote);
    this.#ready = true;
  }

  #useMedia(media: MediaLease): MediaLink {
    this.#media = media;
    this.ids.rtpPort = media.port;
    media.link.on('audio', this.#onLinkAudio);
    media.link.on('played', (frame, at) => this.emit('played', frame, at));
    return media.link;
  }

  /** addChannel; a channel that has not entered Stasis yet answers 422, so wait for it and retry once. */
  async addToBridge(channelId: string, signal: AbortSignal): Promise<void> {
    try {
      await this.host.client.addChannel(this.ids.bridgeId, channelId, signal);
    } catch (err) {
      if (!(err instanceof AriError && err.status === 422)) throw err;
      await this.host.router.waitForStasis(channelId, this.host.config.stasisTimeoutMs, signal);
      await this.host.client.addChannel(this.ids.bridgeId, channelId, signal);
    }
  }

  async startRecording(): Promise<void> {
    const rec = this.host.config.recording;
    if (!rec.enabled) return;
    this.#recorder = new BridgeRecorder(this.host, this.id, this.ids.bridgeId, this.log);
    await this.#recorder.start(rec.maxSeconds, this.signal);
    // its name goes into the store before the call core's first write (which keeps the backend's data): an
    // instance that takes the call over finishes the recording and puts it in the call's record
    await this.saveSession('greeting');
  }

  /** The recording the previous process started on the bridge goes on (see BridgeRecorder): finish it at the end. */
  adoptRecording(stored: StoredAsteriskCall): void {
    if (stored.recording && !this.#recorder)
      this.#recorder = BridgeRecorder.adopt(this.host, this.id, this.ids.bridgeId, stored.recording, this.log);
  }

  async saveSession(state: CallSession['state']): Promise<void> {
    const now = new Date().toISOString();
    await this.host.sessions.put({
      version: 1,
      callId: SESSION_PREFIX + this.id,
      backend: 'asterisk',
      state,
      phone: this.from,
      startedAt: this.startedAt.toISOString(),
      backendData: { ...this.storedIds() },
      dialog: {},
      updatedAt: now,
    });
  }

  /** What the session store keeps of this call for whoever serves it next. */
  storedIds(): StoredAsteriskCall {
    return {
      ...this.ids,
      direction: this.direction,
      to: this.to,
      agentChannelId: this.#agentChannelId,
      app: this.host.client.app,
      tapChannels: this.#taps.flatMap((t) => [t.snoopId, t.mediaChannelId]),
      tapBridges: this.#taps.map((t) => t.bridgeId),
      recording: this.#recorder?.name ?? null,
    };
  }

  // ------------------------------------------------------------------ CallLeg

  sendAudio(pcm: Int16Array): void {
    if (!this.ended && !this.#botLeft) this.#media?.link.send(pcm);
  }

  clearAudio(): number {
    return this.#media?.link.clear() ?? 0;
  }

  async waitForPlayout(signal?: AbortSignal): Promise<void> {
    const link = this.#media?.link;
    if (this.ended || !link) return;
    const untilEnd = signal ? AbortSignal.any([signal, this.signal]) : this.signal;
    try {
      await link.waitDrained(untilEnd);
    } catch (err) {
      if ((this.ended || this.#botLeft) && !signal?.aborted) return; // nothing more will play
      throw err;
    }
  }

  protected async placeTransfer(request: TransferRequest, signal?: AbortSignal): Promise<TransferResult> {
    const untilEnd = signal ? AbortSignal.any([signal, this.signal]) : this.signal;
    const result = await transferToAgent(this, request, untilEnd);
    this.host.transferred(result.outcome);
    return result;
  }

  /** Music on hold is playing into the bridge (a transfer rings): what the bot's leg hears is not the caller. */
  holdAudio(on: boolean): void {
    this.#media?.link.hold(on);
  }

  /**
   * Agent answered: join them to the bridge. The bot leaves, or (`listen`: agentStaysSilent) stays in the bridge
   * muted while a tap per person carries the caller's and the agent's voices apart. Returns whether it listens.
   */
  async handOff(agentChannelId: string, signal: AbortSignal, listen = false): Promise<boolean> {
    // like externalMedia, an originated channel may answer before its StasisStart: adding it then gets 422
    await this.host.router.waitForStasis(agentChannelId, this.host.config.stasisTimeoutMs, signal);
    await this.addToBridge(agentChannelId, signal);
    this.#agentChannelId = agentChannelId;
    this.host.router.claim(agentChannelId, (ev) => this.#onAgentEvent(ev));
    if (listen) {
      this.#media?.link.mute();
      try {
        await this.#tap(agentChannelId, signal);
      } catch (err) {
        // the caller and the agent talk either way; without the taps the bot cannot tell them apart: it leaves
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not tap the hand-off');
        await this.#releaseTaps();
      }
    }
    if (!this.#listening) {
      this.#botLeft = true;
      await this.#releaseMedia();
    }
    await this.saveSession('transferring');
    return this.#listening;
  }

  async #tap(agentChannelId: string, signal: AbortSignal): Promise<void> {
    const host = this.host;
    const emitParty = (party: Party) => (frame: Int16Array) => {
      if (!this.ended) this.emit('party-audio', party, frame);
    };
    this.#taps = [
      new PartyTap(host, 'caller', this.ids.callerChannelId, emitParty('caller')),
      new PartyTap(host, 'agent', agentChannelId, emitParty('agent')),
    ];
    await Promise.all(this.#taps.map((t) => t.start(signal)));
    this.#listening = true;
    this.log.info({ taps: this.tapIds }, 'after the hand-off: the bot listens, muted, to the caller and the agent');
  }

  async #releaseTaps(): Promise<void> {
    const taps = this.#taps;
    this.#taps = [];
    this.#listening = false;
    await Promise.all(taps.map((t) => t.release((label, run) => this.#quietly(label, run))));
  }

  /** Channel events for a channel this call created (agent leg during dialling). */
  watchChannel(channelId: string, listener: (ev: AriEvent) => void): () => void {
    this.host.router.claim(channelId, (ev) => this.#channelEvents.emit(channelId, ev));
    this.#channelEvents.on(channelId, listener);
    this.#watched.add(channelId);
    return () => {
      this.#channelEvents.off(channelId, listener);
      this.#watched.delete(channelId);
    };
  }

  /** Channels this call is dialling right now (resync replays what they missed). */
  pendingChannels(): string[] {
    return [...this.#watched];
  }

  forgetChannel(channelId: string): void {
    this.#watched.delete(channelId);
    this.#channelEvents.removeAllListeners(channelId);
    if (channelId !== this.#agentChannelId) this.host.router.release(channelId);
  }

  /**
   * Bot side hangup. Before a hand-off it ends the caller's call; after an answered transfer it only releases
   * the bot's media (caller and agent keep talking; the bridge goes when one of them hangs up).
   */
  async hangup(reason = 'bot hangup'): Promise<void> {
    if (this.#agentChannelId && !this.ended) {
      this.#botLeft = true;
      await this.#releaseTaps();
      await this.#releaseMedia();
      return;
    }
    await this.end(reason, { hangupCaller: true });
  }

  // ------------------------------------------------------------------ events

  #onCallerEvent(ev: AriEvent): void {
    switch (ev.type) {
      case 'ChannelDtmfReceived':
        if (!this.ended) this.emit('dtmf', ev.digit);
        return;
      case 'ChannelHangupRequest':
      case 'StasisEnd':
      case 'ChannelDestroyed':
        this.#endSoon('caller hung up', { hangupCaller: false });
        return;
      default:
        return;
    }
  }

  #onMediaEvent(ev: AriEvent): void {
    if (ev.type === 'StasisEnd' || ev.type === 'ChannelDestroyed') {
      if (!this.#botLeft) this.#endSoon('media channel gone', { hangupCaller: true });
    }
  }

  #onAgentEvent(ev: AriEvent): void {
    if (ev.type === 'StasisEnd' || ev.type === 'ChannelDestroyed' || ev.type === 'ChannelHangupRequest') {
      this.#endSoon('agent hung up', { hangupCaller: true });
    }
  }

  #endSoon(reason: string, opts: { hangupCaller: boolean }): void {
    this.end(reason, opts).catch((err: unknown) => this.log.error({ err }, 'call release failed'));
  }

  // ------------------------------------------------------------------ release

  /** End the call and release everything, once. Safe from any path, concurrently. */
  end(reason: string, opts: { hangupCaller: boolean; hangupReason?: 'normal' | 'congestion' }): Promise<void> {
    if (!this.ended) this.log.info({ reason }, 'call ending');
    return this.endOnce(reason, async () => {
      // the recording event goes out while the call core still listens, so its CallRecord carries the path
      await this.#quietly('finish recording', async () => this.#recorder?.finish());
      this.emitHangup(reason);
      await this.#release(opts.hangupCaller, opts.hangupReason);
    });
  }

  /**
   * Hand the call over to another bot process (rolling restart): release only what this process holds (socket,
   * port, routes) and leave channels, bridge and session on Asterisk for the next instance to reattach.
   */
  detach(): Promise<void> {
    return this.endOnce(HANDED_OVER, async () => {
      this.emitDetach('handed over');
      this.#recorder?.leave();
      await this.#closeMedia();
      await this.#releaseTaps();
      for (const id of [this.ids.mediaChannelId, this.ids.callerChannelId, this.#agentChannelId, ...this.#watched])
        if (id) this.host.router.release(id);
      this.#channelEvents.removeAllListeners();
      this.log.info('call detached for hand-over');
      this.host.released(this.id);
    });
  }

  async #closeMedia(): Promise<void> {
    const media = this.#media;
    this.#media = null;
    await media?.close();
  }

  async #releaseMedia(): Promise<void> {
    const { router, client } = this.host;
    await this.#closeMedia();
    router.release(this.ids.mediaChannelId);
    await this.#quietly(`DELETE channel ${this.ids.mediaChannelId}`, () => client.hangup(this.ids.mediaChannelId));
  }

  async #release(hangupCaller: boolean, hangupReason: 'normal' | 'congestion' = 'normal'): Promise<void> {
    const { router, client, sessions } = this.host;
    const { callerChannelId, mediaChannelId, bridgeId } = this.ids;
    const agent = this.#agentChannelId;
    const inherited = this.#inherited;
    this.#inherited = null;
    for (const id of [mediaChannelId, callerChannelId, agent]) if (id) router.release(id);
    const step = (label: string, run: () => Promise<unknown>) => this.#quietly(label, run);
    // Every request goes out at once, none waits for another's answer: a per-call websocket closes 3 s after the
    // caller left Stasis (STASIS_END_POST_WAIT), and a release that went step by step on a loaded process (or one
    // killed meanwhile) could lose the socket after the media leg and before the bridge, which then stays for good.
    await Promise.all([
      this.#releaseTaps(),
      this.#closeMedia(),
      step(`DELETE channel ${mediaChannelId}`, () => client.hangup(mediaChannelId)),
      agent ? step(`DELETE channel ${agent}`, () => client.hangup(agent)) : undefined,
      hangupCaller
        ? step(`DELETE channel ${callerChannelId}`, () => client.hangup(callerChannelId, hangupReason))
        : undefined,
      step(`DELETE bridge ${bridgeId}`, () => client.destroyBridge(bridgeId)),
      inherited ? releaseBotLegs(client, inherited, step) : undefined,
    ]);
    await this.#quietly('delete session', () => sessions.delete(SESSION_PREFIX + this.id));
    this.#channelEvents.removeAllListeners();
    this.log.info({ reason: this.endReason }, 'call released');
    this.host.released(this.id);
  }

  /**
   * Cleanup steps never throw: gone is fine (404/422); anything else is logged, counted and retried in the
   * background until it succeeds or the object is gone (never a channel or bridge left on Asterisk for good).
   */
  async #quietly(label: string, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (isGone(err)) return;
      this.log.warn({ step: label, err: err instanceof Error ? err.message : String(err) }, 'release step failed');
      this.host.releaseFailed(`${this.id}: ${label}`, step);
    }
  }
}
