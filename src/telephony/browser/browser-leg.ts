import { randomUUID } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import type { Registry } from 'prom-client';
import type { Logger } from '../../log/logger.js';
import { counter } from '../../core/metrics.js';
import { FrameChunker, samplesPerFrame } from '../../media/frames.js';
import { SampleCountClock } from '../../media/incoming-clock.js';
import { Pacer, sentAt } from '../../media/pacer.js';
import type { CallLeg, Party, TransferRequest, TransferResult } from '../port.js';
import { CallLegBase } from '../call-leg-base.js';
import { leBytesToPcm16, pcm16ToLeBytes } from './pcm16le.js';
import {
  BROWSER_SAMPLE_RATE,
  MAX_AUDIO_FRAME_BYTES,
  MAX_TEXT_FRAME_BYTES,
  clientMessage,
  type ServerMessage,
} from './protocol.js';
import { sharedPacerGroup } from '../../media/pacer-group.js';

const FRAME_MS = 20;
/** Stop queueing frames to a page that does not read them (about 10 s of audio). */
const MAX_SOCKET_BUFFERED_BYTES = 320 * 1024;

export interface BrowserLegOptions {
  socket: WebSocket;
  logger: Logger;
  metrics: Registry;
  id?: string;
  /** shown as the caller on records, e.g. "browser:127.0.0.1" */
  from?: string;
  /** The page cannot reach a phone network; a transfer reports this outcome (default "failed"). */
  transferOutcome?: TransferResult['outcome'];
}

type DropReason = 'not-binary' | 'empty' | 'odd-length' | 'too-large' | 'bad-json' | 'bad-message' | 'backpressure';

/**
 * A CallLeg over one WebSocket to the browser test page: L16 16 kHz both ways, paced bot audio,
 * JSON control frames. Closing the socket is a caller hangup; hangup() closes it from our side.
 */
export class BrowserCallLeg extends CallLegBase implements CallLeg {
  readonly id: string;
  readonly backend = 'browser';
  readonly from: string;
  readonly to = 'voicebot';
  readonly direction = 'inbound' as const;
  readonly inputSampleRate = BROWSER_SAMPLE_RATE;
  readonly outputSampleRate = BROWSER_SAMPLE_RATE;

  readonly #socket: WebSocket;
  readonly #log: Logger;
  readonly #chunker = new FrameChunker(samplesPerFrame(BROWSER_SAMPLE_RATE, FRAME_MS));
  /** the page's microphone stream's own time: samples received (stamps the `audio` frames) */
  readonly #incoming = new SampleCountClock(BROWSER_SAMPLE_RATE);
  readonly #pacer: Pacer;
  readonly #dropped;
  readonly #transferOutcome: TransferResult['outcome'];
  /** answered with `listen`: muted; page audio is the caller's or the agent's, as the page last said */
  #listening = false;
  #speaker: Party = 'caller';
  /** bot audio samples handed to the socket so far */
  sentSamples = 0;

  constructor(opts: BrowserLegOptions) {
    super();
    this.id = opts.id ?? randomUUID();
    this.from = opts.from ?? 'browser';
    this.#socket = opts.socket;
    this.#log = opts.logger;
    this.#transferOutcome = opts.transferOutcome ?? 'failed';
    this.#dropped = counter(
      opts.metrics,
      'voicebot_browser_frames_dropped_total',
      'Frames dropped on browser test-call sockets, by reason',
      ['reason'],
    );
    this.#pacer = new Pacer({
      frameMs: FRAME_MS,
      frameSamples: samplesPerFrame(BROWSER_SAMPLE_RATE, FRAME_MS),
      silenceFill: false,
      group: sharedPacerGroup(),
      onFrame: (frame, info) => this.#sendFrame(frame, sentAt(info)),
      onError: (err) => this.#log.warn({ err }, 'sending bot audio failed'),
    });
    this.#socket.on('message', this.#onMessage);
    this.#socket.on('close', this.#onClose);
    this.#socket.on('error', this.#onError);
    this.#pacer.start();
  }

  /** Send a control message to the page (ignored once the call has ended). */
  send(message: ServerMessage): void {
    if (this.ended || this.#socket.readyState !== this.#socket.OPEN) return;
    this.#socket.send(JSON.stringify(message));
  }

  sendAudio(pcm: Int16Array): void {
    // after a listening hand-off the bot is muted: the "agent" has the line
    if (this.ended || pcm.length === 0 || this.#listening) return;
    this.#pacer.enqueue(pcm);
  }

  clearAudio(): number {
    if (this.ended) return 0;
    const dropped = this.#pacer.flush();
    this.send({ type: 'clear', droppedSamples: dropped });
    this.#checkDrained();
    return dropped;
  }

  waitForPlayout(signal?: AbortSignal): Promise<void> {
    return this.waitUntilDrained(this.#pacer.queuedSamples, signal);
  }

  /**
   * The page's simulated agent: no phone network to dial, the outcome is configured. Answered with `listen`
   * (agentStaysSilent), the bot stays muted and the tester plays both people: the page says whose voice its
   * audio is (`speaker`), and each frame goes to the core as that party's.
   */
  protected async placeTransfer(request: TransferRequest): Promise<TransferResult> {
    const outcome = this.#transferOutcome;
    const listening = outcome === 'answered' && request.listen === true;
    this.send({
      type: 'transfer',
      target: { kind: request.target.kind, address: request.target.address },
      headers: request.headers,
      outcome,
      ...(listening ? { listening } : {}),
    });
    if (listening) {
      this.#pacer.flush();
      this.#listening = true;
    }
    return {
      outcome,
      detail: 'browser test call: no phone network to dial',
      ...(listening ? { listening } : {}),
    };
  }

  async hangup(reason = 'bot-hangup'): Promise<void> {
    if (this.ended) return;
    this.send({ type: 'ended', reason });
    await this.endOnce(reason, () => {
      this.#release();
      this.#socket.close(1000, 'call ended');
    });
  }

  /** The network side ended the call (server shutdown): tell the page, and the core hears a hangup. */
  endFromNetwork(reason: string): void {
    this.send({ type: 'ended', reason });
    this.#callerHangup(reason);
  }

  #onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.ended) return;
    const bytes = toBuffer(data);
    if (!isBinary) return this.#onText(bytes);
    if (bytes.length === 0) return this.#drop('empty');
    if (bytes.length % 2 !== 0) return this.#drop('odd-length');
    if (bytes.length > MAX_AUDIO_FRAME_BYTES) return this.#drop('too-large');
    const pcm = leBytesToPcm16(bytes);
    this.#incoming.received(pcm.length);
    for (const frame of this.#chunker.push(pcm)) {
      const at = this.#incoming.next(frame.length);
      if (this.#listening) this.emit('party-audio', this.#speaker, frame);
      else this.emit('audio', frame, at);
    }
  };

  #onText(bytes: Buffer): void {
    if (bytes.length > MAX_TEXT_FRAME_BYTES) return this.#drop('too-large');
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      return this.#drop('bad-json');
    }
    const parsed = clientMessage.safeParse(json);
    if (!parsed.success) return this.#drop('bad-message');
    const msg = parsed.data;
    if (msg.type === 'dtmf') this.emit('dtmf', msg.digit);
    else if (msg.type === 'speaker') this.#speaker = msg.speaker;
    else this.#callerHangup('caller-hangup');
  }

  #onClose = (): void => this.#callerHangup('caller-hangup');

  #onError = (err: Error & { code?: string }): void => {
    // the client can cause this at will (oversize frame, reset): the web server counts and logs it once; no stack
    this.#log.info({ error: err.message, code: err.code }, 'browser call socket error');
    this.#callerHangup('socket-error');
  };

  #callerHangup(reason: string): void {
    if (this.ended) return;
    void this.endOnce(reason, () => this.#release());
    this.emitHangup(reason);
    if (this.#socket.readyState === this.#socket.OPEN) this.#socket.close(1000, 'call ended');
  }

  /** `at`: when it goes out (`sentAt`: the `played` stamp) */
  #sendFrame(frame: Int16Array, at: number): void {
    if (this.ended) return;
    if (this.#socket.bufferedAmount > MAX_SOCKET_BUFFERED_BYTES) {
      this.#drop('backpressure');
    } else {
      this.#socket.send(pcm16ToLeBytes(frame)); // the pacer hands out a fresh array per frame
      this.emit('played', frame, at); // PCM16 on the wire: the frame as sent
      this.sentSamples += frame.length;
    }
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#pacer.queuedSamples > 0 && !this.ended) return;
    this.drained();
  }

  #drop(reason: DropReason): void {
    this.#dropped.inc({ reason });
    this.#log.debug({ reason }, 'browser frame dropped');
  }

  /** Stop pacing, detach from the socket, wake playout waiters (runs once, from endOnce). */
  #release(): void {
    this.#pacer.stop();
    this.#chunker.reset();
    this.#socket.off('message', this.#onMessage);
    this.#socket.off('close', this.#onClose);
    // keep an error listener: a late socket error must not crash the process
    this.#socket.off('error', this.#onError);
    this.#socket.on('error', () => undefined);
    this.#checkDrained();
  }
}

/** ws hands out Buffer, ArrayBuffer or Buffer[] depending on binaryType and fragmentation. */
function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
