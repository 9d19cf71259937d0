import { randomUUID } from 'node:crypto';
import { mulawDecode, mulawEncode } from '../../media/g711.js';
import { samplesPerFrame } from '../../media/frames.js';
import { EchoPath, type EchoPathOptions } from '../../media/echo-path.js';
import { concatPcm } from '../../media/pcm.js';
import type { CallLeg, TransferOutcome, TransferRequest, TransferResult } from '../port.js';
import { Waiters } from '../../core/waiters.js';
import { CallLegBase } from '../call-leg-base.js';

/** The simulated line is a telephone line: 8 kHz, G.711 μ-law both ways. */
export const SIM_RATE = 8000;
export const SIM_FRAME_MS = 20;
export const SIM_FRAME_SAMPLES = samplesPerFrame(SIM_RATE, SIM_FRAME_MS);

export interface SimulatedLegOptions {
  id?: string;
  from?: string;
  to?: string;
  /** outcome every transfer reports (default "answered") */
  transferOutcome?: TransferOutcome;
  /** bench mode: the first bot frame goes out on its tick, the rest of the queue is played at once */
  instantPlayout?: boolean;
  /** the bot's audio comes back on the line, like echo on a real phone line (the line is 8 kHz) */
  echo?: Omit<EchoPathOptions, 'sampleRate'>;
}

/** Where a caller frame came from: turn index and frame index within that turn (null for line silence). */
export interface CallerFrameTag {
  turn: number;
  frame: number;
}

export interface TickResult {
  tick: number;
  /** performance.now() when the tick began, before the caller frame reached the core */
  at: number;
  caller: CallerFrameTag | null;
  /** bot samples played out on this tick */
  botSamples: number;
}

/** μ-law encode then decode: what survives a G.711 line. */
export function throughMulaw(pcm: Int16Array): Int16Array {
  return mulawDecode(mulawEncode(pcm));
}

/**
 * A CallLeg on a simulated phone line driven by discrete 20 ms ticks: each tick sends one caller frame to
 * the call core (queued turn audio, else silence) and plays one frame of queued bot audio into a recording.
 * Whoever drives tick() chooses the clock (accelerated or real time); causality holds either way.
 */
export class SimulatedCallLeg extends CallLegBase implements CallLeg {
  readonly id: string;
  readonly backend = 'simulate';
  readonly from: string;
  readonly to: string;
  readonly direction = 'inbound' as const;
  readonly inputSampleRate = SIM_RATE;
  readonly outputSampleRate = SIM_RATE;
  readonly transfers: TransferRequest[] = [];

  readonly #transferOutcome: TransferOutcome;
  readonly #instantPlayout: boolean;
  readonly #echo: EchoPath | null;
  readonly #callerFrames: Array<{ pcm: Int16Array; tag: CallerFrameTag }> = [];
  readonly #botChunks: Int16Array[] = [];
  #botOffset = 0;
  #botQueued = 0;
  /** one entry per tick: what the caller heard (bot audio or line silence) */
  readonly #recording: Int16Array[] = [];
  readonly #activityWaiters = new Waiters();
  #ticks = 0;

  constructor(opts: SimulatedLegOptions = {}) {
    super();
    this.id = opts.id ?? randomUUID();
    this.from = opts.from ?? '+15550100';
    this.to = opts.to ?? '+15550199';
    this.#transferOutcome = opts.transferOutcome ?? 'answered';
    this.#instantPlayout = opts.instantPlayout ?? false;
    this.#echo = opts.echo ? new EchoPath({ ...opts.echo, sampleRate: SIM_RATE }) : null;
  }

  get ticks(): number {
    return this.#ticks;
  }
  get callerQueuedFrames(): number {
    return this.#callerFrames.length;
  }
  get botQueuedSamples(): number {
    return this.#botQueued;
  }

  /** Queue caller speech (PCM16 at 8 kHz); it crosses the μ-law line and goes out one frame per tick. */
  queueCallerAudio(pcm8k: Int16Array, turn: number): void {
    const line = throughMulaw(pcm8k);
    for (let at = 0, frame = 0; at < line.length; at += SIM_FRAME_SAMPLES, frame++) {
      const pcm = new Int16Array(SIM_FRAME_SAMPLES); // last frame padded with silence
      pcm.set(line.subarray(at, at + SIM_FRAME_SAMPLES));
      this.#callerFrames.push({ pcm, tag: { turn, frame } });
    }
  }

  /** Advance the line by one frame. */
  tick(): TickResult {
    const at = performance.now();
    const tick = this.#ticks++;
    const next = this.#callerFrames.shift();
    const caller = next?.pcm ?? new Int16Array(SIM_FRAME_SAMPLES);
    // stamped on the line's own clock: the tick it stands for (the bot's frame of this tick follows it)
    if (!this.ended)
      this.emit('audio', this.#echo ? this.#echo.take(SIM_FRAME_SAMPLES, caller) : caller, tick * SIM_FRAME_MS);
    const botSamples = this.#playBot();
    return { tick, at, caller: next?.tag ?? null, botSamples };
  }

  /** Everything the caller heard from the bot, one frame per tick (8 kHz PCM16). */
  recording(): Int16Array {
    return concatPcm(this.#recording);
  }

  /** Resolves on the next sign of life from the bot (audio queued, hangup) or when `signal` aborts. */
  nextActivity(signal: AbortSignal): Promise<void> {
    return this.#activityWaiters.wait(signal).catch(() => undefined);
  }

  /** Wake anyone waiting in nextActivity (the driver calls this on call events too). */
  nudge(): void {
    this.#activityWaiters.resolveAll();
  }

  sendAudio(pcm: Int16Array): void {
    if (this.ended || pcm.length === 0) return;
    this.#botChunks.push(throughMulaw(pcm));
    this.#botQueued += pcm.length;
    this.nudge();
  }

  clearAudio(): number {
    const dropped = this.#botQueued;
    this.#botChunks.length = 0;
    this.#botOffset = 0;
    this.#botQueued = 0;
    this.drained();
    return dropped;
  }

  waitForPlayout(signal?: AbortSignal): Promise<void> {
    return this.waitUntilDrained(this.#botQueued, signal);
  }

  protected async placeTransfer(request: TransferRequest): Promise<TransferResult> {
    this.transfers.push(request);
    return { outcome: this.#transferOutcome, detail: 'simulated line' };
  }

  /** The bot ends the call. */
  hangup(reason = 'bot-hangup'): Promise<void> {
    return this.endOnce(reason, () => this.#release());
  }

  /** The caller ends the call. */
  callerHangup(reason = 'caller-hangup'): void {
    if (this.ended) return;
    void this.endOnce(reason, () => this.#release());
    this.emitHangup(reason);
  }

  #release(): void {
    this.#callerFrames.length = 0;
    this.clearAudio();
    this.nudge();
  }

  #playBot(): number {
    const want = this.#instantPlayout && this.#botQueued > 0 ? this.#botQueued : SIM_FRAME_SAMPLES;
    const out = new Int16Array(Math.max(want, SIM_FRAME_SAMPLES));
    let filled = 0;
    while (filled < want && this.#botChunks.length > 0) {
      const chunk = this.#botChunks[0]!;
      const take = Math.min(want - filled, chunk.length - this.#botOffset);
      out.set(chunk.subarray(this.#botOffset, this.#botOffset + take), filled);
      filled += take;
      this.#botOffset += take;
      if (this.#botOffset === chunk.length) {
        this.#botChunks.shift();
        this.#botOffset = 0;
      }
    }
    this.#botQueued -= filled;
    this.#recording.push(out);
    if (filled > 0 && !this.ended) {
      const played = out.subarray(0, filled); // μ-law already applied
      this.#echo?.pushBot(played);
      this.emit('played', played, this.#ticks * SIM_FRAME_MS);
    }
    if (filled > 0 && this.#botQueued === 0) this.drained();
    return filled;
  }
}
