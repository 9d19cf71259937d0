import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import { counter } from '../../core/metrics.js';
import { mulawDecode, mulawEncode } from '../../media/g711.js';
import { Pacer } from '../../media/pacer.js';
import { RtpSession, type RtpEndpoint } from '../../media/rtp-session.js';
import { seqDistance } from '../../media/rtp.js';
import type { RtpPacket } from '../../media/rtp.js';
import { sharedPacerGroup } from '../../media/pacer-group.js';

const FRAME_SAMPLES = 160; // 20 ms at 8 kHz
/** Short gaps (lost packets) are filled with silence so the caller's timeline stays true; longer ones are not. */
const MAX_GAP_FILL_FRAMES = 5;
/** A silence this short between two bot audio frames is a starved queue, not a pause between prompts. */
const MAX_GAP_FRAMES = 10;

export interface MediaLinkEvents {
  audio: [frame: Int16Array];
}

/**
 * The bot's end of one externalMedia channel: ONE UDP socket that receives Asterisk's μ-law RTP and sends the
 * bot's audio back to UNICASTRTP_LOCAL_ADDRESS:PORT from the same port (strict RTP), paced by the media plane's
 * Pacer on an absolute clock, silence-filled so the stream never stalls.
 */
export class MediaLink extends EventEmitter<MediaLinkEvents> {
  readonly #rtp: RtpSession;
  readonly #pacer: Pacer;
  #lastSeq: number | null = null;
  /** silence slots since the last audio frame; null right after start or clear() (a pause there is not a gap) */
  #silentRun: number | null = null;
  /** bot audio resumed after a short silence: the queue ran dry mid-speech (TTS slower than real time) */
  #gaps = 0;
  #muted = false;
  #closed: Promise<void> | null = null;
  readonly #late;

  constructor(rtp: RtpSession, opts: { silenceFill: boolean; metrics: Registry }) {
    super();
    this.#rtp = rtp;
    this.#late = counter(
      opts.metrics,
      'voicebot_asterisk_rtp_late_total',
      'Caller RTP packets dropped as duplicate or late',
    );
    const payload = Buffer.alloc(FRAME_SAMPLES);
    this.#pacer = new Pacer({
      frameSamples: FRAME_SAMPLES,
      silenceFill: opts.silenceFill,
      group: sharedPacerGroup(),
      onFrame: (frame, info) => {
        this.#noteSlot(info.silence);
        mulawEncode(frame, payload);
        this.#rtp.send(payload, { samples: FRAME_SAMPLES });
      },
    });
    rtp.on('packet', (p) => this.#onPacket(p));
  }

  /** Bind a socket on `port` (the caller chooses the port from the configured range). */
  static open(host: string, port: number, metrics: Registry, signal?: AbortSignal): Promise<RtpSession> {
    return RtpSession.open({
      host,
      port,
      payloadType: 0,
      lockToFirstSource: true,
      metrics,
      ...(signal ? { signal } : {}),
    });
  }

  get localPort(): number {
    return this.#rtp.localAddress.port;
  }

  get stats(): { rtp: RtpSession['stats']; pacer: Pacer['stats']; gaps: number } {
    return { rtp: this.#rtp.stats, pacer: this.#pacer.stats, gaps: this.#gaps };
  }

  #noteSlot(silence: boolean): void {
    if (silence) {
      if (this.#silentRun !== null) this.#silentRun++;
      return;
    }
    if (this.#silentRun !== null && this.#silentRun > 0 && this.#silentRun <= MAX_GAP_FRAMES) this.#gaps++;
    this.#silentRun = 0;
  }

  /** Where Asterisk's UnicastRTP channel listens: we send there, and accept packets only from there. */
  connect(remote: RtpEndpoint): void {
    this.#rtp.remote = { ...remote };
    this.#rtp.source = { ...remote };
    this.#pacer.start();
  }

  /** Bot speech (8 kHz PCM16). Dropped while muted (the agent has the line). */
  send(pcm: Int16Array): void {
    if (!this.#muted && !this.#closed) this.#pacer.enqueue(pcm);
  }

  clear(): number {
    this.#silentRun = null;
    return this.#pacer.flush();
  }

  /** Stop speaking (queued audio dropped) but keep the stream alive with silence. */
  mute(): void {
    this.#muted = true;
    this.#pacer.flush();
  }

  get queuedSamples(): number {
    return this.#pacer.queuedSamples;
  }

  async waitDrained(signal?: AbortSignal): Promise<void> {
    if (this.#closed) return;
    await this.#pacer.waitDrained(signal);
  }

  #onPacket(p: RtpPacket): void {
    if (p.payloadType !== 0) return;
    if (this.#lastSeq !== null) {
      const d = seqDistance(p.sequenceNumber, this.#lastSeq);
      if (d <= 0) {
        this.#late.inc();
        return;
      }
      for (let i = 1; i < d && i <= MAX_GAP_FILL_FRAMES; i++) this.emit('audio', new Int16Array(p.payload.length));
    }
    this.#lastSeq = p.sequenceNumber;
    this.emit('audio', mulawDecode(p.payload));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#pacer.stop();
      this.removeAllListeners();
      this.#closed = this.#rtp.close();
    }
    return this.#closed;
  }
}
