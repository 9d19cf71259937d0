import { EventEmitter } from 'node:events';
import type { Registry } from 'prom-client';
import { counter } from '../../core/metrics.js';
import type { MediaConfig } from '../../media/config.js';
import { jitterBufferOptions, pacerConfigOptions } from '../../media/from-config.js';
import { mulawDecode, mulawEncode } from '../../media/g711.js';
import { IncomingClock } from '../../media/incoming-clock.js';
import { JitterBuffer } from '../../media/jitter-buffer.js';
import { rtpQualityCounters, type RtpQualityCounters } from '../../media/rtp-quality.js';
import { Pacer, sentAt } from '../../media/pacer.js';
import { RtpSession, type RtpEndpoint } from '../../media/rtp-session.js';
import type { RtpPacket } from '../../media/rtp.js';
import { sharedPacerGroup, type PacerGroup } from '../../media/pacer-group.js';

const FRAME_SAMPLES = 160; // 20 ms at 8 kHz
const FRAME_MS = 20;
const SEND_OPTIONS = { samples: FRAME_SAMPLES } as const;
/**
 * After music on hold stops, mixed frames still in flight (one mixing interval plus the network) are not the
 * caller either: drop what arrives this long after the hold ends.
 */
const HOLD_TAIL_MS = 40;
/** A silence this short between two bot audio frames is a starved queue, not a pause between prompts. */
const MAX_GAP_FRAMES = 10;

export interface MediaLinkEvents {
  /** caller audio; `at`: its RTP timestamp on the local clock (ms; see IncomingClock) */
  audio: [frame: Int16Array, at: number];
  /** bot audio as sent: the μ-law payload decoded back; `at`: when it went out (ms, `sentAt`) */
  played: [frame: Int16Array, at: number];
}

export interface MediaLinkOptions {
  /** the `media` config section: jitter buffer, concealment, silence fill, pacer catch-up */
  media: MediaConfig;
  metrics: Registry;
  /** the clock both directions run on (default: the process's shared pacer group) */
  group?: PacerGroup;
  /** each frame sent to Asterisk: its send time minus its slot on the absolute clock, ms (the media bench) */
  onSent?: (lateMs: number) => void;
}

/**
 * The bot's end of one externalMedia channel: ONE UDP socket that receives Asterisk's μ-law RTP and sends the
 * bot's audio back to UNICASTRTP_LOCAL_ADDRESS:PORT from the same port (strict RTP), paced by the media plane's
 * Pacer on an absolute clock, silence-filled so the stream never stalls. Caller audio goes through a jitter
 * buffer (reordering, duplicates, loss concealment) and leaves it on its own 20 ms playout clock.
 */
export class MediaLink extends EventEmitter<MediaLinkEvents> {
  readonly #rtp: RtpSession;
  readonly #pacer: Pacer;
  readonly #jitter: JitterBuffer;
  /** pops one caller frame per 20 ms slot (a Pacer used as a clock: its own frames are never sent) */
  readonly #playout: Pacer;
  #receiving = false;
  /** caller audio is music on hold right now (or its tail): dropped, never heard as the caller */
  #holdUntil = 0;
  /** silence slots since the last audio frame; null right after start or clear() (a pause there is not a gap) */
  #silentRun: number | null = null;
  /** bot audio resumed after a short silence: the queue ran dry mid-speech (TTS slower than real time) */
  #gaps = 0;
  #muted = false;
  /** caller audio's RTP timestamps → the pacers' clock; the first packet's timestamp is media time 0 */
  readonly #incoming: IncomingClock;
  readonly #now: () => number;
  #firstTimestamp: number | null = null;
  /** the stamp of the next caller frame when the jitter buffer has none for it (concealment, priming) */
  #nextAt: number | null = null;
  #closed: Promise<void> | null = null;
  readonly #late;
  readonly #quality: RtpQualityCounters;

  constructor(rtp: RtpSession, opts: MediaLinkOptions) {
    super();
    this.#rtp = rtp;
    const group = opts.group ?? sharedPacerGroup();
    // the caller frames are stamped on the clock the bot's frames go out on (the `played` stamps)
    this.#now = group.now;
    this.#incoming = new IncomingClock(group.now);
    this.#late = counter(
      opts.metrics,
      'voicebot_asterisk_rtp_late_total',
      'Caller RTP packets dropped as duplicate or late',
    );
    this.#quality = rtpQualityCounters(opts.metrics);
    const payload = Buffer.alloc(FRAME_SAMPLES);
    const onSent = opts.onSent;
    this.#pacer = new Pacer({
      frameSamples: FRAME_SAMPLES,
      ...pacerConfigOptions(opts.media),
      group,
      // onFrame encodes the frame and reads its info before it returns: one buffer for every frame
      reuseFrameBuffer: true,
      onFrame: (frame, info) => {
        this.#noteSlot(info.silence);
        mulawEncode(frame, payload);
        this.#rtp.send(payload, SEND_OPTIONS);
        onSent?.(performance.now() - info.scheduledAt);
        if (this.listenerCount('played') > 0) this.emit('played', mulawDecode(payload), sentAt(info));
      },
    });
    this.#jitter = new JitterBuffer(jitterBufferOptions(opts.media, FRAME_SAMPLES));
    this.#playout = new Pacer({
      frameSamples: FRAME_SAMPLES,
      silenceFill: true,
      maxCatchUpFrames: opts.media.pacerMaxCatchUpFrames,
      group,
      reuseFrameBuffer: true, // its frames are never read: it is only a clock
      onFrame: () => this.#playOne(),
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

  get stats(): {
    rtp: RtpSession['stats'];
    pacer: Pacer['stats'];
    jitter: JitterBuffer['stats'];
    gaps: number;
    /** slots the caller-audio playout clock skipped after a stall */
    playoutSkipped: number;
  } {
    return {
      rtp: this.#rtp.stats,
      pacer: this.#pacer.stats,
      jitter: this.#jitter.stats,
      gaps: this.#gaps,
      playoutSkipped: this.#playout.stats.skipped,
    };
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
    this.#playout.start();
  }

  /**
   * Music on hold plays into the bridge (Asterisk mixes it into the bot's leg too): while `on`, and for a short
   * tail after, what arrives is not the caller and is dropped.
   */
  hold(on: boolean): void {
    this.#holdUntil = on ? Infinity : performance.now() + HOLD_TAIL_MS;
    this.#jitter.reset();
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
    if (this.#holdUntil > 0) {
      if (performance.now() < this.#holdUntil) return;
      this.#holdUntil = 0;
    }
    this.#firstTimestamp ??= p.timestamp;
    this.#incoming.arrived(this.#mediaMs(p.timestamp));
    const { late, duplicates, reordered } = this.#jitter.stats;
    this.#jitter.push({ sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, payload: mulawDecode(p.payload) });
    const stats = this.#jitter.stats;
    if (stats.late + stats.duplicates > late + duplicates) this.#late.inc();
    if (stats.late > late) this.#quality.late.inc();
    if (stats.duplicates > duplicates) this.#quality.duplicate.inc();
    if (stats.reordered > reordered) this.#quality.reordered.inc();
    this.#receiving = true;
  }

  /** One playout slot: the next caller frame in sequence order (concealment for a lost one). */
  #playOne(): void {
    if (!this.#receiving || this.#holdUntil > 0) return;
    const concealed = this.#jitter.stats.concealed;
    const frame = this.#jitter.pop();
    const ts = this.#jitter.lastTimestamp;
    // a concealed (or priming) frame stands in the slot after the previous one
    const at = ts !== null ? this.#incoming.at(this.#mediaMs(ts)) : (this.#nextAt ?? this.#now());
    this.#nextAt = at + FRAME_MS;
    this.emit('audio', frame, at);
    if (this.#jitter.stats.concealed > concealed) this.#quality.lost.inc();
  }

  /** An RTP timestamp as ms since the stream's first packet (signed 32-bit difference: wraps are harmless). */
  #mediaMs(timestamp: number): number {
    return ((timestamp - this.#firstTimestamp!) | 0) / (FRAME_SAMPLES / FRAME_MS);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#pacer.stop();
      this.#playout.stop();
      this.removeAllListeners();
      this.#closed = this.#rtp.close();
    }
    return this.#closed;
  }
}
