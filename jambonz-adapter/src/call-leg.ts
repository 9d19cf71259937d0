import type { WebSocket } from 'ws';
import type { Clock } from 'voicebot/core';
import type { Logger } from 'voicebot/log';
import { FrameChunker, SampleCountClock, samplesPerFrame, Resampler } from 'voicebot/media';
import {
  type CallLeg,
  type Party,
  type SampleRate,
  type TransferOutcome,
  type TransferRequest,
  type TransferResult,
  CallLegBase,
  DialWait,
} from 'voicebot/telephony';
import type { AudioEvent, SendResult } from './messages.js';
import { sendJson } from './messages.js';
import { botAudioToL16 } from './pcm.js';
import { UnsupportedTargetError, type JambonzVerb } from './verbs.js';
import type { FramePacer, PacerFactory } from './pacer.js';
import { ForkPlayout } from './fork-playout.js';

/** How jambonz reaches this call's application: HTTP webhooks or the WebSocket API. */
export type ControlMode = 'webhook' | 'ws';

type LegState = 'bot' | 'transferring' | 'bridged' | 'ended';

/** What the leg needs from its backend (URLs and hooks are the backend's business). */
export interface LegHost {
  logger: Logger;
  /** grace periods, mark and transfer timeouts run on this clock (tests: a fake one) */
  clock: Clock;
  pacers: PacerFactory;
  reconnectGraceMs: number;
  /**
   * Several instances share the call's state (session store and leases): a WS API socket that jambonz does not bring
   * back within the grace has gone to another instance, so the call is handed over (detached), not ended.
   */
  handOver: boolean;
  /** a mark jambonz never reports (no mark support) counts as played after this long */
  markTimeoutMs: number;
  dialVerb(request: TransferRequest): JambonzVerb;
  /** oversize frame refused: counted by the backend */
  onOversize(what: string): void;
  /** the leg has let go of everything; the backend forgets it */
  onReleased(leg: JambonzCallLeg): void;
  /** the first audio socket attached: the call is real now */
  onAudioConnected?(leg: JambonzCallLeg): void;
}

export interface LegInit {
  callSid: string;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound';
  sampleRate: SampleRate;
  mode: ControlMode;
  /** per-call password jambonz presents on the audio socket (listen wsAuth) */
  audioToken: string;
  /** what the session store keeps about the instance serving the call (see `CallLeg.sessionData`) */
  sessionData?: Record<string, unknown>;
}

interface PlayoutWaiter {
  /** enqueued-sample position this waiter needs played */
  target: number;
  mark?: string;
  /** settles the waiter if jambonz never reports its mark */
  timer?: unknown;
  resolve: () => void;
}

/** The hand-off stream: the dial's nested stereo listen, caller left and agent right. */
interface HandOffStream {
  socket: WebSocket;
  /** per party: to the call's input rate, in 20 ms frames */
  parties: Record<Party, { resampler: Resampler | null; chunker: FrameChunker }>;
}

/** jambonz pre-buffers and may hold a short tail back: end each utterance with ~100 ms of silence. */
const TAIL_SILENCE_MS = 100;
/**
 * The media server moves bot audio to playout in blocks: 1280 samples (× the stream/codec rate ratio) at first, then
 * 640; a shorter remainder waits in its pre-buffer for more audio (mod_audio_fork streamingPreBufSize).
 */
const MEDIA_SERVER_FIRST_BLOCK = 1280;
const MEDIA_SERVER_NEXT_BLOCK = 640;
/**
 * The call's codec rate sizes those blocks, and jambonz does not tell the app what it is: assume G.711's 8 kHz, the
 * largest pre-buffer any codec gives (160 ms), so silence meant to push it through always does.
 */
const NARROWEST_CODEC_RATE = 8000;
/** keep at most this much bot audio while no audio socket is attached */
const MAX_PENDING_MS = 60_000;
/** slack on top of the ring timeout before a transfer with no answer from jambonz counts as failed */
const TRANSFER_SLACK_MS = 15_000;

/**
 * One jambonz call as the call core sees it. Caller audio arrives on the listen socket (attached and
 * re-attached by the backend); bot audio is paced out in 20 ms L16 frames on the same socket.
 */
export class JambonzCallLeg extends CallLegBase implements CallLeg {
  readonly backend = 'jambonz';
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound';
  readonly inputSampleRate: SampleRate;
  readonly outputSampleRate: SampleRate;
  readonly mode: ControlMode;
  readonly audioToken: string;
  readonly sessionData: Readonly<Record<string, unknown>>;

  /** while the call is up (ended: see `state`) */
  #state: Exclude<LegState, 'ended'> = 'bot';
  #audio: WebSocket | null = null;
  #audioClosingByUs = false;
  #audioSeen = false;
  #control: WebSocket | null = null;
  #pacer: FramePacer | null = null;
  readonly #outChunker: FrameChunker;
  readonly #inChunker: FrameChunker;
  /** the listen stream's own time: samples received (stamps the `audio` frames; a new socket starts over) */
  readonly #incoming: SampleCountClock;
  #inResampler: Resampler | null = null;
  #pending: Int16Array[] = [];
  #pendingSamples = 0;
  #enqueued = 0;
  #sent = 0;
  #waiters: PlayoutWaiter[] = [];
  #markSeq = 0;
  /** marks sent to jambonz that it has not reported (playout/cleared) yet */
  readonly #unreported = new Set<string>();
  /** samples of silence that push anything in the media server's pre-buffer through to its playout buffer */
  #preBufferFlush = MEDIA_SERVER_FIRST_BLOCK;
  /** when the media server plays what we send (the `played` stamps); one per listen socket */
  #fork: ForkPlayout | null = null;
  /** the transfer being dialled: settled by the dial hooks, the ring timeout or an abort */
  #dial: DialWait | null = null;
  /** the dial being placed carries a nested listen: after the answer the bot listens, muted (agentStaysSilent) */
  #listenAsked = false;
  /** answered with the bot listening: the hand-off stream may attach */
  #listening = false;
  #handOff: HandOffStream | null = null;
  #nextVerbs: JambonzVerb[] | null = null;
  /** a listen sent with a redirect has not connected yet: the actionHook of the listen it killed is not ours to answer */
  #listenPending = false;
  #detached = false;
  /** the bot let go after an answered transfer: the call goes on between the caller and the agent */
  #handedOff = false;
  #audioGrace: unknown = null;
  #controlGrace: unknown = null;
  readonly #host: LegHost;
  readonly #log: Logger;
  #resolveClosed!: (reason: string) => void;
  /** Settles (with the reason) once the leg has released everything, whoever ended it. */
  readonly closed: Promise<string> = new Promise((resolve) => (this.#resolveClosed = resolve));

  constructor(init: LegInit, host: LegHost) {
    super();
    this.id = init.callSid;
    this.from = init.from;
    this.to = init.to;
    this.direction = init.direction;
    this.inputSampleRate = init.sampleRate;
    this.outputSampleRate = init.sampleRate;
    this.mode = init.mode;
    this.audioToken = init.audioToken;
    this.sessionData = init.sessionData ?? {};
    this.#host = host;
    this.#log = host.logger;
    this.#outChunker = new FrameChunker(samplesPerFrame(init.sampleRate));
    this.#inChunker = new FrameChunker(samplesPerFrame(init.sampleRate));
    this.#incoming = new SampleCountClock(init.sampleRate);
    // The audio socket must arrive: if it never does, the call is over for us.
    this.#startAudioGrace('audio-never-connected');
  }

  get state(): LegState {
    return this.ended ? 'ended' : this.#state;
  }
  get hasAudio(): boolean {
    return this.#audio !== null;
  }
  /** a listen this leg asked for with a redirect is still to connect */
  get listenPending(): boolean {
    return this.#listenPending;
  }
  /** this process let go of the call without ending it (another instance takes it over) */
  get detached(): boolean {
    return this.#detached;
  }
  /** the bot left a call it had handed to a person: it goes on without us (jambonz's dial runs on) */
  get handedOff(): boolean {
    return this.#handedOff;
  }
  /** resources this leg still holds (tests check they all reach zero) */
  get held(): { audio: boolean; control: boolean; pacer: boolean; timers: number; waiters: number } {
    return {
      audio: this.#audio !== null || this.#handOff !== null,
      control: this.#control !== null,
      pacer: this.#pacer !== null,
      timers:
        (this.#audioGrace !== null ? 1 : 0) +
        (this.#controlGrace !== null ? 1 : 0) +
        this.#waiters.filter((w) => w.timer !== undefined).length,
      waiters: this.#waiters.length,
    };
  }

  // ---- audio socket ------------------------------------------------------------------------------

  /** A listen socket for this call has sent its metadata. A newer socket replaces an older one. */
  attachAudio(socket: WebSocket, streamRate: number): void {
    if (this.ended) {
      socket.close(1000, 'call ended');
      return;
    }
    if (this.#audio && this.#audio !== socket) this.#dropAudioSocket();
    this.#audio = socket;
    this.#audioClosingByUs = false;
    this.#listenPending = false;
    this.#clearTimer('audio');
    this.#inResampler =
      streamRate !== this.inputSampleRate && (streamRate === 8000 || streamRate === 16000)
        ? new Resampler(streamRate, this.inputSampleRate)
        : null;
    const downscale = Math.max(1, this.outputSampleRate / NARROWEST_CODEC_RATE);
    this.#preBufferFlush = MEDIA_SERVER_FIRST_BLOCK * downscale;
    this.#fork = new ForkPlayout(
      this.outputSampleRate,
      MEDIA_SERVER_FIRST_BLOCK * downscale,
      MEDIA_SERVER_NEXT_BLOCK * downscale,
    );
    const pacer = this.#host.pacers.create(this.outputSampleRate, (frame, at) => this.#sendFrame(frame, at));
    this.#pacer = pacer;
    for (const chunk of this.#pending) pacer.enqueue(chunk);
    this.#pending = [];
    this.#pendingSamples = 0;
    pacer.start();
    this.#log.debug({ streamRate }, 'jambonz audio attached');
    if (!this.#audioSeen) {
      this.#audioSeen = true;
      this.#host.onAudioConnected?.(this);
    }
  }

  /** The listen socket closed (by jambonz, by the network, or after our disconnect). */
  audioClosed(socket: WebSocket): void {
    if (this.#audio !== socket) return;
    const expected = this.#audioClosingByUs || this.state !== 'bot';
    this.#releaseAudio();
    if (this.ended) return;
    if (!expected) {
      this.#log.info('jambonz audio socket closed unexpectedly; waiting for a new listen');
      this.#startAudioGrace('audio-lost');
    }
  }

  /** One binary frame of caller audio (already decoded to PCM16). */
  receiveAudio(pcm: Int16Array): void {
    if (this.ended) return;
    const input = this.#inResampler ? this.#inResampler.process(pcm) : pcm;
    this.#incoming.received(input.length);
    for (const frame of this.#inChunker.push(input)) this.emit('audio', frame, this.#incoming.next(frame.length));
  }

  receiveEvent(event: AudioEvent): void {
    if (this.ended) return;
    if (event.kind === 'dtmf') {
      for (const digit of event.digits) this.emit('dtmf', digit);
      return;
    }
    this.#unreported.delete(event.name);
    this.#markDone(event.name);
  }

  // ---- hand-off stream (agentStaysSilent) --------------------------------------------------------

  /** The dial's nested listen connected (stereo). Refused unless the agent answered a transfer that asked for it. */
  attachHandOffAudio(socket: WebSocket, streamRate: number): void {
    if (this.#state !== 'bridged' || !this.#listening) {
      socket.close(1000, 'not listening');
      return;
    }
    this.#dropHandOff();
    const party = () => ({
      resampler:
        streamRate !== this.inputSampleRate && (streamRate === 8000 || streamRate === 16000)
          ? new Resampler(streamRate, this.inputSampleRate)
          : null,
      chunker: new FrameChunker(samplesPerFrame(this.inputSampleRate)),
    });
    this.#handOff = { socket, parties: { caller: party(), agent: party() } };
    this.#log.info({ streamRate }, 'jambonz hand-off stream attached: listening to the caller and the agent');
  }

  /** Interleaved stereo L16 from the hand-off stream: left the caller, right the agent. */
  receiveHandOffAudio(stereo: Int16Array): void {
    const stream = this.#handOff;
    if (!stream || this.ended) return;
    const half = stereo.length >> 1;
    const channels: Record<Party, Int16Array> = { caller: new Int16Array(half), agent: new Int16Array(half) };
    for (let i = 0; i < half; i++) {
      channels.caller[i] = stereo[2 * i]!;
      channels.agent[i] = stereo[2 * i + 1]!;
    }
    for (const p of ['caller', 'agent'] as const) {
      const { resampler, chunker } = stream.parties[p];
      const pcm = resampler ? resampler.process(channels[p]) : channels[p];
      for (const frame of chunker.push(pcm)) this.emit('party-audio', p, frame);
    }
  }

  handOffAudioClosed(socket: WebSocket): void {
    if (this.#handOff?.socket === socket) this.#handOff = null;
  }

  #dropHandOff(): void {
    const socket = this.#handOff?.socket;
    this.#handOff = null;
    if (socket && socket.readyState <= socket.OPEN) socket.close(1000, 'call ended');
  }

  /**
   * `at`: when it goes out (`sentAt`); now when the pacer does not say. `played` (L16: the frame as sent) follows
   * once the media server plays it, stamped with when it does (ForkPlayout).
   */
  #sendFrame(frame: Int16Array, at = performance.now()): void {
    const socket = this.#audio;
    this.#sent += frame.length;
    if (socket && socket.readyState === socket.OPEN) {
      socket.send(botAudioToL16(frame));
      for (const played of this.#fork?.sent(frame, at) ?? []) this.emit('played', played.frame, played.at);
    }
    this.#placeMarks();
  }

  #sendCommand(message: unknown): SendResult {
    if (!this.#audio) return 'closed';
    const result = sendJson(this.#audio, message);
    if (result === 'oversize') this.#host.onOversize('audio-command');
    return result;
  }

  // ---- bot audio (CallLeg) -----------------------------------------------------------------------

  sendAudio(pcm: Int16Array): void {
    if (this.ended || pcm.length === 0) return;
    for (const frame of this.#outChunker.push(pcm)) this.#enqueue(frame);
  }

  #enqueue(frame: Int16Array): void {
    this.#enqueued += frame.length;
    if (this.#pacer) {
      this.#pacer.enqueue(frame);
      return;
    }
    const max = (this.outputSampleRate * MAX_PENDING_MS) / 1000;
    if (this.#pendingSamples + frame.length > max) {
      this.#enqueued -= frame.length;
      return;
    }
    this.#pending.push(frame);
    this.#pendingSamples += frame.length;
  }

  clearAudio(): number {
    let dropped = this.#pendingSamples + this.#outChunker.buffered;
    this.#pending = [];
    this.#pendingSamples = 0;
    this.#outChunker.reset();
    if (this.#pacer) dropped += this.#pacer.flush();
    // killAudio flushes what jambonz has buffered; marks it answers with "cleared" are already settled here.
    if (this.#audio) {
      const flushed = this.#flushPreBuffer();
      this.#sendCommand({ type: 'killAudio' });
      this.#fork?.killed(performance.now(), flushed);
    }
    this.#enqueued = 0;
    this.#sent = 0;
    this.#settleWaiters();
    return dropped;
  }

  /**
   * killAudio clears the media server's playout buffer but not its pre-buffer: the part of a block it holds back (up
   * to ~140 ms) would play in front of the next prompt. Silence sent just before killAudio pushes it through, so the
   * kill clears it too. Not while a mark is pending there: the silence would carry its marker into the cleared buffer,
   * where it is lost and swallows a later mark; the pre-buffer then holds only the prompt's trailing silence anyway.
   */
  #flushPreBuffer(): boolean {
    const socket = this.#audio;
    if (!socket || socket.readyState !== socket.OPEN || this.#unreported.size > 0) return false;
    socket.send(botAudioToL16(new Int16Array(this.#preBufferFlush)));
    return true;
  }

  waitForPlayout(signal?: AbortSignal): Promise<void> {
    if (this.ended) return Promise.resolve();
    signal?.throwIfAborted();
    const tail = this.#outChunker.flush(true);
    if (tail) this.#enqueue(tail);
    if (this.#enqueued === 0) return Promise.resolve();
    // Silence so the media server's block buffering plays the real tail without waiting for more audio.
    this.#enqueue(new Int16Array((this.outputSampleRate * TAIL_SILENCE_MS) / 1000));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        if (waiter.timer !== undefined) this.#host.clock.clearTimeout(waiter.timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason as Error);
      };
      const waiter: PlayoutWaiter = {
        target: this.#enqueued,
        resolve: () => {
          if (waiter.timer !== undefined) this.#host.clock.clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#placeMarks();
    });
  }

  /** Once everything a waiter needs has left the pacer, ask jambonz to tell us when it is heard. */
  #placeMarks(): void {
    const unsent: PlayoutWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.mark || w.target > this.#sent || !this.#audio) continue;
      const name = `vb${++this.#markSeq}`;
      w.mark = name;
      if (this.#sendCommand({ type: 'mark', data: { name } }) !== 'sent') {
        unsent.push(w);
        continue;
      }
      this.#unreported.add(name);
      w.timer = this.#host.clock.setTimeout(() => {
        this.#log.warn({ mark: name }, 'jambonz did not report a mark: counting the audio as played');
        this.#unreported.delete(name);
        this.#markDone(name);
      }, this.#host.markTimeoutMs);
    }
    if (unsent.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !unsent.includes(w));
    for (const w of unsent) w.resolve();
  }

  #markDone(name: string): void {
    const index = this.#waiters.findIndex((w) => w.mark === name);
    if (index < 0) return;
    // Marks are played in order: everything up to this one has been heard.
    const done = this.#waiters.splice(0, index + 1);
    for (const w of done) w.resolve();
    if (this.#waiters.length === 0 && this.#sent >= this.#enqueued) {
      this.#enqueued = 0;
      this.#sent = 0;
    }
  }

  #settleWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
  }

  // ---- control -----------------------------------------------------------------------------------

  /** WS API: the socket that carries this call's session (replaced on session:reconnect). */
  attachControl(socket: WebSocket): void {
    this.#control = socket;
    this.#clearTimer('control');
  }

  controlClosed(socket: WebSocket): void {
    if (this.#control !== socket) return;
    this.#control = null;
    if (this.ended) return;
    // jambonz reconnects (session:reconnect) after dropping a socket; if it does not come back here, the call is
    // gone, or (several instances) it went to another instance, which takes the call over once we let go.
    this.#controlGrace = this.#host.clock.setTimeout(() => {
      this.#controlGrace = null;
      if (this.#host.handOver) void this.detach('ws-api-lost');
      else this.#end('ws-api-closed', true);
    }, this.#host.reconnectGraceMs);
  }

  #sendControl(message: unknown): SendResult {
    if (!this.#control) return 'closed';
    const result = sendJson(this.#control, message);
    if (result === 'oversize') this.#host.onOversize('ws-api-command');
    return result;
  }

  /**
   * Make jambonz leave the listen and run `verbs`. WS API: a redirect command. Webhooks: we keep the
   * verbs, send `disconnect`, and hand them over when the listen's actionHook arrives.
   */
  #runNext(verbs: JambonzVerb[]): SendResult {
    if (this.mode === 'ws') {
      const result = this.#sendControl({ type: 'command', command: 'redirect', data: verbs });
      if (result === 'sent') this.#audioClosingByUs = true;
      return result;
    }
    this.#nextVerbs = verbs;
    if (!this.#audio) return 'closed';
    this.#audioClosingByUs = true;
    return this.#sendCommand({ type: 'disconnect' });
  }

  /**
   * A call taken over from another instance (WS API): its listen, which replaces whatever jambonz runs. The actionHook
   * of the listen it kills (or that ended when the other instance died) is answered with nothing until it connects.
   */
  resumeWith(listen: JambonzVerb): SendResult {
    const result = this.#sendControl({ type: 'command', command: 'redirect', data: [listen] });
    if (result === 'sent') this.#listenPending = true;
    return result;
  }

  /** The listen ended (webhook mode): the verbs we queued, or null when the bot did not ask for anything. */
  takeNextVerbs(): JambonzVerb[] | null {
    const verbs = this.#nextVerbs;
    this.#nextVerbs = null;
    return verbs;
  }

  protected async placeTransfer(request: TransferRequest, signal?: AbortSignal): Promise<TransferResult> {
    // bridged: the caller is with a person already
    if (this.#state !== 'bot') return { outcome: 'failed', detail: 'transfer already in progress' };
    let dial: JambonzVerb;
    try {
      dial = this.#host.dialVerb(request);
    } catch (err) {
      if (err instanceof UnsupportedTargetError) return { outcome: 'failed', detail: err.message };
      throw err;
    }
    signal?.throwIfAborted();
    const wait = new DialWait({ clock: this.#host.clock, signal });
    this.#listenAsked = request.listen === true && 'listen' in dial;
    this.#state = 'transferring';
    const sent = this.#runNext([dial]);
    if (sent !== 'sent') {
      wait.dispose();
      this.#state = 'bot';
      this.#nextVerbs = null;
      this.#audioClosingByUs = false;
      const detail =
        sent === 'oversize' ? 'dial command over 24 KiB, not sent' : 'no open connection to jambonz for this call';
      return { outcome: 'failed', detail };
    }
    // Unplayed bot audio would be cut by the dial anyway; stop pacing it.
    this.#pacer?.flush();
    this.#dial = wait;
    wait.ring(request.target.timeoutSec * 1000 + TRANSFER_SLACK_MS, {
      outcome: 'failed',
      detail: 'no dial result from jambonz',
    });
    try {
      const result = await wait.result;
      this.#dialEnded(result.outcome); // a timeout or an abort hands the caller back too
      return result;
    } finally {
      wait.dispose();
      if (this.#dial === wait) this.#dial = null;
    }
  }

  /** The dial's confirmHook or actionHook told us how the transfer went. Returns true when the bot has the caller back. */
  dialOutcome(outcome: TransferOutcome, detail?: string): boolean {
    this.#dialEnded(outcome);
    this.#listening = outcome === 'answered' && this.#state === 'bridged' && this.#listenAsked;
    const listening = this.#listening ? { listening: true } : {};
    this.#dial?.decide({ outcome, ...(detail === undefined ? {} : { detail }), ...listening });
    return !this.ended && this.#state === 'bot';
  }

  #dialEnded(outcome: TransferOutcome): void {
    if (this.ended || this.#state !== 'transferring') return;
    if (outcome === 'answered') {
      this.#state = 'bridged';
      return;
    }
    this.#state = 'bot';
    this.#audioClosingByUs = false;
    // Until the new listen connects, the same grace as a lost socket applies.
    if (!this.#audio) this.#startAudioGrace('audio-lost');
  }

  /**
   * A call taken over from another instance whose bot had handed it to a person: jambonz's dial runs on, so no audio
   * comes here (the grace for a missing listen does not apply); the call is ours only to see it end.
   */
  withPersonElsewhere(): void {
    this.#state = 'bridged';
    this.#clearTimer('audio');
  }

  /** jambonz reports the call is over (call:status / status webhook). */
  remoteEnded(reason: string): void {
    this.#end(reason, true);
  }

  /**
   * Let go of the call without ending it: another instance takes it over from the session store (the call core asks
   * for it when it detaches; the leg itself when its WS API socket went to another instance). The call core hears
   * `detach` (no end record); our audio socket closes, so jambonz ends that listen and its actionHook reaches whoever
   * serves the call next. Nothing is sent to jambonz about the call itself; a later `hangup` does nothing.
   */
  async detach(reason = 'handed over'): Promise<void> {
    if (this.ended) return;
    this.#detached = true;
    await this.endOnce(reason, () => this.#release(reason, 'detach'));
  }

  async hangup(reason = 'bot-hangup'): Promise<void> {
    if (this.ended) return;
    if (this.#state === 'bridged') {
      // The caller is talking to a person now: only let go of the bot's side.
      this.#handedOff = true;
      this.#end(reason, false);
      return;
    }
    if (this.mode === 'ws') {
      this.#sendControl({ type: 'command', command: 'call:status', data: { call_status: 'completed' } });
    } else {
      this.#runNext([{ verb: 'hangup' }]);
    }
    this.#end(reason, false);
    await Promise.resolve();
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  #startAudioGrace(reason: string): void {
    this.#clearTimer('audio');
    this.#audioGrace = this.#host.clock.setTimeout(() => {
      this.#audioGrace = null;
      if (!this.#audio && this.#state === 'bot') this.#end(reason, true);
    }, this.#host.reconnectGraceMs);
  }

  #clearTimer(which: 'audio' | 'control'): void {
    if (which === 'audio' && this.#audioGrace !== null) {
      this.#host.clock.clearTimeout(this.#audioGrace);
      this.#audioGrace = null;
    }
    if (which === 'control' && this.#controlGrace !== null) {
      this.#host.clock.clearTimeout(this.#controlGrace);
      this.#controlGrace = null;
    }
  }

  #releaseAudio(): void {
    // A new listen socket is a new media bug: no marks pending there.
    this.#unreported.clear();
    this.#pacer?.stop();
    this.#pacer = null;
    this.#fork = null;
    this.#audio = null;
    this.#inChunker.reset();
    this.#incoming.reset();
    this.#inResampler = null;
    // Whatever was queued is not going to be heard on this socket.
    this.#enqueued = 0;
    this.#sent = 0;
    this.#settleWaiters();
  }

  #dropAudioSocket(): void {
    const socket = this.#audio;
    this.#releaseAudio();
    if (socket && socket.readyState <= socket.OPEN) socket.close(1000, 'replaced');
  }

  #end(reason: string, emitHangup: boolean): void {
    if (this.ended) return;
    void this.endOnce(reason, () => this.#release(reason, emitHangup ? 'hangup' : 'none'));
  }

  #release(reason: string, tell: 'hangup' | 'detach' | 'none'): void {
    this.#log.info({ reason }, tell === 'detach' ? 'jambonz call handed over' : 'jambonz call leg ended');
    const audio = this.#audio;
    if (audio && this.mode === 'ws' && tell !== 'detach') this.#sendCommand({ type: 'disconnect' });
    this.#releaseAudio();
    if (audio && audio.readyState <= audio.OPEN) audio.close(1000, 'call ended');
    this.#dropHandOff();
    this.#listening = false;
    this.#pending = [];
    this.#pendingSamples = 0;
    this.#clearTimer('audio');
    this.#clearTimer('control');
    this.#control = null;
    this.#dial?.decide({ outcome: 'failed', detail: `call ended: ${reason}` });
    if (tell === 'hangup') this.emitHangup(reason);
    else if (tell === 'detach') this.emitDetach(reason);
    this.removeAllListeners();
    this.#host.onReleased(this);
    this.#resolveClosed(reason);
  }
}
