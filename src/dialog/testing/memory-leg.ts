import { setImmediate as yieldToLoop, setTimeout as pause } from 'node:timers/promises';
import type {
  CallLeg,
  CallLegEvents,
  Party,
  SampleRate,
  TransferRequest,
  TransferResult,
} from '../../telephony/port.js';
import { EchoPath, type EchoPathOptions } from '../../media/echo-path.js';
import { concatPcm } from '../../media/pcm.js';
import { CallLegBase } from '../../telephony/call-leg-base.js';

export interface MemoryLegOptions {
  id?: string;
  backend?: string;
  from?: string;
  to?: string;
  direction?: 'inbound' | 'outbound';
  inputSampleRate?: SampleRate;
  outputSampleRate?: SampleRate;
  /** caller frame length; each fed frame also advances the playout clock by this much */
  frameMs?: number;
  /** answers to transfer requests, in order (the last one repeats); or a function */
  transferOutcomes?: TransferResult[] | ((req: TransferRequest, signal?: AbortSignal) => Promise<TransferResult>);
  /** 'clock': bot audio plays as the test feeds frames or calls advance(); 'instant': plays at once */
  playout?: 'clock' | 'instant';
  /** the bot's played audio comes back in the caller frames, like echo on a phone line (sampleRate: the leg's) */
  echo?: Omit<EchoPathOptions, 'sampleRate'>;
}

export interface ClearRecord {
  /** playout clock (ms) when clearAudio was called */
  atMs: number;
  /** caller frames fed before the call (the frame being handled counts) */
  framesFed: number;
  /** queued bot samples dropped */
  dropped: number;
}

/**
 * In-memory CallLeg for tests and tools: the test plays the caller (frames, DTMF, hangup), bot audio is
 * captured and "played" on a simulated clock, transfers are recorded and answered from a script.
 */
export class MemoryLeg extends CallLegBase implements CallLeg {
  readonly id: string;
  readonly backend: string;
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound';
  readonly inputSampleRate: SampleRate;
  readonly outputSampleRate: SampleRate;
  readonly frameMs: number;

  /** every bot chunk handed to sendAudio, in order */
  readonly sent: Int16Array[] = [];
  /** bot audio that reached the caller, in order */
  readonly played: Int16Array[] = [];
  readonly clears: ClearRecord[] = [];
  readonly transfers: TransferRequest[] = [];
  readonly dtmfSent: string[] = [];
  hungUpBy: 'caller' | 'bot' | null = null;
  /** simulated playout clock, ms */
  clockMs = 0;
  framesFed = 0;

  readonly #queue: Int16Array[] = [];
  #queuedSamples = 0;
  #playedSamples = 0;
  readonly #transferOutcomes: MemoryLegOptions['transferOutcomes'];
  #transferIndex = 0;
  readonly #instant: boolean;
  /** the simulated line's echo of the bot, if any */
  readonly echo: EchoPath | null;

  constructor(opts: MemoryLegOptions = {}) {
    super();
    this.id = opts.id ?? `mem-${Math.random().toString(36).slice(2, 10)}`;
    this.backend = opts.backend ?? 'memory';
    this.from = opts.from ?? '+15550100';
    this.to = opts.to ?? '+15550199';
    this.direction = opts.direction ?? 'inbound';
    this.inputSampleRate = opts.inputSampleRate ?? 8000;
    this.outputSampleRate = opts.outputSampleRate ?? 8000;
    this.frameMs = opts.frameMs ?? 20;
    this.#transferOutcomes = opts.transferOutcomes ?? [{ outcome: 'answered' }];
    this.#instant = opts.playout === 'instant';
    if (opts.echo && this.inputSampleRate !== this.outputSampleRate) throw new Error('echo needs one rate both ways');
    this.echo = opts.echo ? new EchoPath({ ...opts.echo, sampleRate: this.inputSampleRate }) : null;
  }

  // ---- CallLeg ------------------------------------------------------------------------------

  sendAudio(pcm: Int16Array): void {
    if (this.hungUpBy) return;
    const copy = pcm.slice();
    this.sent.push(copy);
    this.#queue.push(copy);
    this.#queuedSamples += copy.length;
    if (this.#instant) this.#play(Infinity);
  }

  clearAudio(): number {
    const dropped = this.#queuedSamples;
    this.#queue.length = 0;
    this.#queuedSamples = 0;
    this.clears.push({ atMs: this.clockMs, framesFed: this.framesFed, dropped });
    this.drained();
    return dropped;
  }

  waitForPlayout(signal?: AbortSignal): Promise<void> {
    return this.waitUntilDrained(this.#queuedSamples, signal);
  }

  sendDtmf(digits: string): Promise<void> {
    this.dtmfSent.push(digits);
    return Promise.resolve();
  }

  protected async placeTransfer(request: TransferRequest, signal?: AbortSignal): Promise<TransferResult> {
    this.transfers.push(request);
    const script = this.#transferOutcomes;
    if (typeof script === 'function') return script(request, signal);
    const list = script ?? [];
    const outcome = list[Math.min(this.#transferIndex++, list.length - 1)] ?? { outcome: 'answered' };
    return Promise.resolve(outcome);
  }

  hangup(reason = 'bot'): Promise<void> {
    if (!this.hungUpBy) this.hungUpBy = 'bot';
    return this.endOnce(reason, () => this.#dropQueue());
  }

  // ---- driving the caller side ----------------------------------------------------------------

  get queuedSamples(): number {
    return this.#queuedSamples;
  }
  get playedSamples(): number {
    return this.#playedSamples;
  }
  get samplesPerInputFrame(): number {
    return (this.inputSampleRate * this.frameMs) / 1000;
  }

  /**
   * One caller frame: the playout clock advances one frame, then the frame is delivered (with the line's echo of
   * what the bot played before this frame mixed in, when the leg has an echo path).
   */
  feed(frame: Int16Array): void {
    if (this.hungUpBy) return;
    this.framesFed++;
    const line = this.echo ? this.echo.take(frame.length, frame) : frame;
    const at = this.clockMs;
    this.advance(this.frameMs);
    this.emit('audio', line, at);
  }

  /** Feed `pcm` (at inputSampleRate) as consecutive frames, yielding to the event loop between frames. */
  async feedPcm(pcm: Int16Array): Promise<void> {
    const n = this.samplesPerInputFrame;
    for (let at = 0; at < pcm.length && !this.hungUpBy; at += n) {
      const frame = new Int16Array(n);
      frame.set(pcm.subarray(at, Math.min(at + n, pcm.length)));
      this.feed(frame);
      await yieldToLoop();
    }
  }

  /** `ms` of silence (or of a tone with `amplitude` > 0) as caller frames. */
  async feedTone(ms: number, amplitude = 8000, hz = 440): Promise<void> {
    const total = Math.round((ms * this.inputSampleRate) / 1000);
    const pcm = new Int16Array(total);
    for (let i = 0; i < total; i++) {
      pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / this.inputSampleRate));
    }
    await this.feedPcm(pcm);
  }

  feedSilence(ms: number): Promise<void> {
    return this.feedTone(ms, 0);
  }

  /**
   * Feed silence frames until `predicate` holds (bot audio keeps playing meanwhile).
   * Simulated time runs as fast as the loop turns while bot audio is queued; while nothing is queued
   * (the bot is waiting on ASR, an LLM, a transfer) each frame also lets ~1 ms of real time pass, so
   * real I/O can finish before simulated time runs out. Throws after `maxMs` of simulated time.
   */
  async pumpUntil(predicate: () => boolean, maxMs = 60_000): Promise<void> {
    const silence = new Int16Array(this.samplesPerInputFrame);
    const start = this.clockMs;
    while (!predicate()) {
      if (this.clockMs - start > maxMs) throw new Error(`pumpUntil: condition not met within ${maxMs} ms of call time`);
      if (this.hungUpBy) throw new Error(`pumpUntil: call hung up by ${this.hungUpBy} before the condition held`);
      const idle = this.#queuedSamples === 0;
      this.feed(silence);
      if (idle) await pause(1);
      else await yieldToLoop();
    }
  }

  /** Advance the playout clock without caller audio. */
  advance(ms: number): void {
    this.clockMs += ms;
    this.#play((this.outputSampleRate * ms) / 1000);
  }

  pressDigit(digit: string): void {
    if (!this.hungUpBy) this.emit('dtmf', digit);
  }

  /** The caller hangs up. */
  hangupByCaller(reason = 'caller hung up'): void {
    if (this.hungUpBy) return;
    this.hungUpBy = 'caller';
    void this.endOnce(reason, () => this.#dropQueue());
    this.emitHangup(reason);
  }

  /** After an answered hand-off with `listen`: one party (caller or agent) speaks a frame. */
  feedParty(party: Party, frame: Int16Array): void {
    if (!this.hungUpBy) this.emit('party-audio', party, frame);
  }

  /** Bot audio that reached the caller, as one buffer. */
  playedAudio(): Int16Array {
    return concatPcm(this.played);
  }

  listenerCounts(): Record<keyof CallLegEvents, number> {
    return {
      audio: this.listenerCount('audio'),
      played: this.listenerCount('played'),
      dtmf: this.listenerCount('dtmf'),
      hangup: this.listenerCount('hangup'),
      'party-audio': this.listenerCount('party-audio'),
      detach: this.listenerCount('detach'),
    };
  }

  #play(samples: number): void {
    let budget = samples;
    // stamped on the playout clock: what plays now starts at the current time, each piece after the one before
    let at = this.clockMs;
    while (budget > 0 && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const take = Math.min(head.length, budget);
      const piece = head.subarray(0, take);
      this.played.push(piece);
      this.echo?.pushBot(piece);
      this.emit('played', piece, at);
      at += (take * 1000) / this.outputSampleRate;
      this.#playedSamples += take;
      this.#queuedSamples -= take;
      budget -= take;
      if (take === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(take);
    }
    if (this.#queuedSamples === 0) this.drained();
  }

  #dropQueue(): void {
    this.#queue.length = 0;
    this.#queuedSamples = 0;
    this.drained();
  }
}
