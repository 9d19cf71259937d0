import { EventEmitter } from 'node:events';
import { EchoPath, type EchoPathOptions } from '../../../src/media/echo-path.js';
import type { InviteIdentity } from './model.js';
import { readPcmWav, to8k, ulawDecode, ulawEncode } from './wire.js';

export const FRAME_SAMPLES = 160;

export interface StreamOptions {
  /** 1 = real time (default), 4 = four times faster, 0 = as fast as the event loop allows */
  speed?: number;
  signal?: AbortSignal;
}

export interface ReceivedChunk {
  at: number;
  pcm: Int16Array;
}

export interface PartyEvents {
  /** audio the far end (bot, agent, recording) sent to this party */
  audio: [pcm: Int16Array, at: number];
  /** the party's own μ-law frame going into the network */
  frame: [ulaw: Buffer];
  dtmf: [digit: string];
  hangup: [];
  ended: [reason: string];
  /** the channel left Stasis and went on in the dialplan here (ARI continue, or a failed per-call websocket) */
  dialplan: [where: DialplanLocation];
}

export interface DialplanLocation {
  context: string;
  exten: string;
  priority: number;
}

/**
 * A person on a channel, without SIP: the inbound caller, the agent, or the callee of an outbound call. It
 * streams a WAV (or PCM) as 20 ms μ-law frames and records what comes back.
 */
export class Party extends EventEmitter<PartyEvents> {
  readonly received: ReceivedChunk[] = [];
  /** μ-law bytes exactly as received (bit-exactness checks) */
  readonly receivedUlaw: Buffer[] = [];
  mohStarted = 0;
  /** a dialled party: the caller id its phone showed (the INVITE's From / P-Asserted-Identity) */
  invite: InviteIdentity | null = null;
  /** where the call went on in the dialplan after leaving Stasis (null: still with the app, or never left) */
  inDialplan: DialplanLocation | null = null;
  #ended: string | null = null;
  /** a send in progress pauses the idle silence stream */
  #sending = 0;
  #idleTimer: NodeJS.Timeout | null = null;
  /** the line's echo of what this party hears, mixed into what it sends (see `echoLine`) */
  #echo: EchoPath | null = null;
  readonly ended: Promise<string>;

  constructor(
    readonly channelId: string,
    readonly role: 'caller' | 'agent' | 'callee',
    /** the channel's name, e.g. PJSIP/softphone-00000002 */
    readonly channelName = '',
  ) {
    super();
    this.ended = new Promise((resolve) => this.once('ended', resolve));
  }

  get isEnded(): boolean {
    return this.#ended !== null;
  }

  /** called by the emulator */
  deliver(ulaw: Buffer): void {
    if (this.#ended) return;
    const pcm = ulawDecode(ulaw);
    const at = performance.now();
    this.receivedUlaw.push(Buffer.from(ulaw));
    this.received.push({ at, pcm });
    this.#echo?.pushBot(pcm);
    this.emit('audio', pcm, at);
  }

  /**
   * Stream silence at 50 packets/s whenever nothing else is being sent, like a real phone (and Asterisk bridging
   * it). Frames follow an absolute 20 ms clock.
   */
  streamIdleSilence(): void {
    if (this.#idleTimer || this.#ended) return;
    const silence = new Int16Array(FRAME_SAMPLES);
    const start = performance.now();
    let n = 0;
    const tick = () => {
      if (this.#ended) return;
      const due = Math.floor((performance.now() - start) / 20);
      for (; n <= due; n++) if (this.#sending === 0) this.#send(silence);
      this.#idleTimer = setTimeout(tick, Math.max(1, start + n * 20 - performance.now()));
    };
    tick();
  }

  /**
   * A phone line that echoes: from now on what this party hears comes back in what it sends (delayed, attenuated,
   * filtered, μ-law on request; see src/media/echo-path.ts), mixed with its own audio. Needs the idle silence stream
   * (placeCall's default) so the echo flows while the party says nothing.
   */
  echoLine(opts: Omit<EchoPathOptions, 'sampleRate'>): void {
    this.#echo = new EchoPath({ ...opts, sampleRate: 8000 });
  }

  /** One 20 ms frame into the network, with the line's echo mixed in. */
  #send(frame: Int16Array): void {
    this.emit('frame', ulawEncode(this.#echo ? this.#echo.take(FRAME_SAMPLES, frame) : frame));
  }

  /** called by the emulator: the call left the bot and went on in the dialplan (it is not over) */
  continued(where: DialplanLocation): void {
    if (this.#ended) return;
    this.inDialplan = where;
    this.emit('dialplan', where);
  }

  /** called by the emulator */
  end(reason: string): void {
    if (this.#ended) return;
    this.#ended = reason;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    this.emit('ended', reason);
  }

  receivedPcm(): Int16Array {
    const total = this.received.reduce((n, c) => n + c.pcm.length, 0);
    const out = new Int16Array(total);
    let off = 0;
    for (const c of this.received) {
      out.set(c.pcm, off);
      off += c.pcm.length;
    }
    return out;
  }

  /** Milliseconds of received audio whose level is above `threshold` (i.e. not silence). */
  audibleMs(threshold = 500): number {
    let frames = 0;
    for (const c of this.received) if (peak(c.pcm) > threshold) frames++;
    return frames * 20;
  }

  /** Stream 8 kHz PCM as μ-law frames at the given speed. Resolves when done, the call ends or `signal` aborts. */
  async sendPcm(pcm8k: Int16Array, opts: StreamOptions = {}): Promise<void> {
    const speed = opts.speed ?? 1;
    const frameMs = speed > 0 ? 20 / speed : 0;
    const start = performance.now();
    this.#sending++;
    try {
      for (let i = 0, n = 0; i < pcm8k.length && !this.#ended && !opts.signal?.aborted; i += FRAME_SAMPLES, n++) {
        const frame = new Int16Array(FRAME_SAMPLES);
        frame.set(pcm8k.subarray(i, i + FRAME_SAMPLES));
        this.#send(frame);
        const due = start + (n + 1) * frameMs;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        else if (n % 10 === 9) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.#sending--;
    }
  }

  async sendSilence(ms: number, opts: StreamOptions = {}): Promise<void> {
    await this.sendPcm(new Int16Array(Math.round((ms * 8000) / 1000)), opts);
  }

  /** Stream a PCM16 mono WAV (8 or 16 kHz). */
  async sendWav(path: string, opts: StreamOptions = {}): Promise<void> {
    const { samples, sampleRate } = readPcmWav(path);
    await this.sendPcm(to8k(samples, sampleRate), opts);
  }

  /** Press a key: Asterisk reports it to the app as ChannelDtmfReceived. */
  dtmf(digit: string): void {
    if (!this.#ended) this.emit('dtmf', digit);
  }

  /** Hang up from the party's side. */
  hangup(): void {
    if (!this.#ended) this.emit('hangup');
  }
}

export function peak(pcm: Int16Array): number {
  let m = 0;
  for (const s of pcm) m = Math.max(m, Math.abs(s));
  return m;
}
