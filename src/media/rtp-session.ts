import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { Counter, Registry } from 'prom-client';
import { counter } from '../core/metrics.js';
import { DEFAULT_DTMF_PAYLOAD_TYPE, DtmfDetector } from './dtmf.js';
import type { DtmfEvent } from './dtmf.js';
import { RtpParseError, parseRtp } from './rtp.js';
import type { RtpPacket } from './rtp.js';

export interface RtpEndpoint {
  address: string;
  port: number;
}

export interface RtpSessionOptions {
  /** Address to bind (default 0.0.0.0). */
  host?: string;
  /** Port to bind; 0 = any free port (default). Ignored when `portRange` is given. */
  port?: number;
  /** Inclusive range to pick a free even port from (RTP convention: RTCP would be the odd one above). */
  portRange?: [number, number];
  /** Accept packets only from the first valid source address:port (default true): strict RTP. */
  lockToFirstSource?: boolean;
  /** Where to send; learned from the first valid packet when absent (symmetric RTP). */
  remote?: RtpEndpoint;
  /** Audio payload type sent and accepted (default 0, PCMU). */
  payloadType?: number;
  /** Telephone-event payload type turned into 'dtmf' events (default 101). */
  dtmfPayloadType?: number;
  /** Aborting closes the session (pass the call's signal); aborted during open, open rejects. */
  signal?: AbortSignal;
  /** Registry for the drop counters (`voicebot_rtp_dropped_total{reason}`). */
  metrics?: Registry;
}

export interface RtpSessionStats {
  received: number;
  sent: number;
  dropped: { malformed: number; wrongSource: number; wrongPayloadType: number };
  /** Sends skipped because no remote is known yet. */
  unsentNoRemote: number;
  /** Socket errors, including failed sends. */
  socketErrors: number;
  /** Times the locked source switched SSRC (a re-invite or a bridge change on the peer). */
  ssrcChanges: number;
}

export interface RtpSendOptions {
  marker?: boolean;
  /** Timestamp advance for this packet; default payload bytes (1 byte per sample for G.711). */
  samples?: number;
}

export interface RtpSessionEvents {
  packet: [RtpPacket];
  dtmf: [DtmfEvent];
  error: [Error];
}

type DropReason = keyof RtpSessionStats['dropped'];

const RTP_HEADER_BYTES = 12;

/**
 * One RTP stream over ONE UDP socket that both receives and sends, as Asterisk's strict RTP requires:
 * audio for the caller must leave from the port Asterisk sends to.
 */
export class RtpSession extends EventEmitter<RtpSessionEvents> {
  readonly localAddress: RtpEndpoint;
  remote: RtpEndpoint | null;
  /**
   * Source address:port packets are accepted from (with lockToFirstSource): the first valid packet's, or set it
   * before any packet arrives to lock to a known peer (e.g. Asterisk's UNICASTRTP_LOCAL_ADDRESS:PORT).
   */
  source: RtpEndpoint | null = null;
  readonly ssrc = randomInt(0, 2 ** 32 - 1) >>> 0;
  readonly payloadType: number;
  readonly stats: RtpSessionStats = {
    received: 0,
    sent: 0,
    dropped: { malformed: 0, wrongSource: 0, wrongPayloadType: 0 },
    unsentNoRemote: 0,
    socketErrors: 0,
    ssrcChanges: 0,
  };

  #sequenceNumber = randomInt(0, 0x10000);
  #timestamp = randomInt(0, 2 ** 32 - 1) >>> 0;
  #remoteSsrc: number | null = null;
  readonly #dtmfPayloadType: number;
  readonly #lockToFirstSource: boolean;
  readonly #dtmf = new DtmfDetector();
  readonly #dropCounter: Counter<string> | null;
  #closed: Promise<void> | null = null;
  readonly #onAbort = () => void this.close();
  readonly #socket: Socket;
  readonly #signal: AbortSignal | undefined;

  private constructor(socket: Socket, opts: RtpSessionOptions, signal?: AbortSignal) {
    super();
    this.#socket = socket;
    this.#signal = signal;
    const addr = socket.address();
    this.localAddress = { address: addr.address, port: addr.port };
    this.remote = opts.remote ? { ...opts.remote } : null;
    this.payloadType = opts.payloadType ?? 0;
    this.#dtmfPayloadType = opts.dtmfPayloadType ?? DEFAULT_DTMF_PAYLOAD_TYPE;
    this.#lockToFirstSource = opts.lockToFirstSource ?? true;
    this.#dropCounter = opts.metrics
      ? counter(opts.metrics, 'voicebot_rtp_dropped_total', 'RTP packets dropped on receive', ['reason'])
      : null;
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    socket.on('error', (err) => this.#onSocketError(err));
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  static async open(opts: RtpSessionOptions = {}): Promise<RtpSession> {
    opts.signal?.throwIfAborted();
    const host = opts.host ?? '0.0.0.0';
    const socket = opts.portRange
      ? await bindInRange(host, opts.portRange, opts.signal)
      : await bind(host, opts.port ?? 0, opts.signal);
    if (opts.signal?.aborted) {
      await closeSocket(socket);
      opts.signal.throwIfAborted();
    }
    return new RtpSession(socket, opts, opts.signal);
  }

  /** Sends one payload with the next sequence number; the timestamp then advances by `samples`. */
  send(payload: Buffer, opts: RtpSendOptions = {}): void {
    this.#sendPacket(this.payloadType, payload, opts.marker ?? false, this.#timestamp);
    this.#timestamp = (this.#timestamp + (opts.samples ?? payload.length)) >>> 0;
  }

  /**
   * Sends a packet with another payload type (e.g. telephone-event) at a given timestamp without advancing
   * the audio timestamp. The sequence number still advances: it is shared by the whole stream.
   */
  sendRaw(payloadType: number, payload: Buffer, opts: { marker?: boolean; timestamp?: number } = {}): void {
    this.#sendPacket(payloadType, payload, opts.marker ?? false, opts.timestamp ?? this.#timestamp);
  }

  /** The timestamp the next audio packet will carry. */
  get nextTimestamp(): number {
    return this.#timestamp;
  }

  get isClosed(): boolean {
    return this.#closed !== null;
  }

  /** Closes the socket (releasing its port) and removes listeners; safe to call more than once. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      const pending = this.#dtmf.flush();
      if (pending) this.emit('dtmf', pending);
      this.#closed = closeSocket(this.#socket).finally(() => this.removeAllListeners());
    }
    return this.#closed;
  }

  #sendPacket(payloadType: number, payload: Buffer, marker: boolean, timestamp: number): void {
    if (this.#closed) return;
    const remote = this.remote;
    if (payloadType < 0 || payloadType > 127) throw new RangeError(`RTP payload type ${payloadType}`);
    if (!remote) {
      this.stats.unsentNoRemote++;
      return;
    }
    // A fresh buffer per packet (a slice of Node's pool: cheap). Not a reused one: when the kernel's send buffer is
    // full, dgram queues the send and reads the buffer later, and a completion callback to return it to a pool
    // cost more CPU in the media bench (~8 %: a nextTick per packet) than the allocation it saves.
    const buf = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
    buf[0] = 0x80;
    buf[1] = (marker ? 0x80 : 0) | payloadType;
    buf.writeUInt16BE(this.#sequenceNumber, 2);
    buf.writeUInt32BE(timestamp >>> 0, 4);
    buf.writeUInt32BE(this.ssrc, 8);
    buf.set(payload, RTP_HEADER_BYTES);
    this.#sequenceNumber = (this.#sequenceNumber + 1) & 0xffff;
    this.stats.sent++;
    // No callback: a failed send surfaces as a socket 'error' (counted there); this is the per-packet hot path.
    this.#socket.send(buf, remote.port, remote.address);
  }

  /** A socket error ends only this call, never the process: count it, report it to whoever listens. */
  #onSocketError(err: Error): void {
    this.stats.socketErrors++;
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #drop(reason: DropReason): void {
    this.stats.dropped[reason]++;
    this.#dropCounter?.inc({ reason });
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    if (this.source && this.#lockToFirstSource) {
      if (rinfo.port !== this.source.port || rinfo.address !== this.source.address) {
        this.#drop('wrongSource');
        return;
      }
    }
    let packet: RtpPacket;
    try {
      packet = parseRtp(msg);
    } catch (err) {
      if (!(err instanceof RtpParseError)) throw err;
      this.#drop('malformed');
      return;
    }
    const pt = packet.payloadType;
    if (pt !== this.payloadType && pt !== this.#dtmfPayloadType) {
      this.#drop('wrongPayloadType');
      return;
    }
    if (!this.source || !this.#lockToFirstSource) {
      this.source = { address: rinfo.address, port: rinfo.port };
      this.remote ??= { address: rinfo.address, port: rinfo.port };
    }
    if (this.#remoteSsrc !== packet.ssrc) {
      if (this.#remoteSsrc !== null) this.stats.ssrcChanges++;
      this.#remoteSsrc = packet.ssrc;
    }
    this.stats.received++;
    if (pt === this.#dtmfPayloadType) {
      this.#onDtmfPacket(packet);
      return;
    }
    this.emit('packet', packet);
  }

  #onDtmfPacket(packet: RtpPacket): void {
    let events: DtmfEvent[];
    try {
      events = this.#dtmf.push(packet);
    } catch {
      this.stats.received--;
      this.#drop('malformed');
      return;
    }
    for (const ev of events) this.emit('dtmf', ev);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves the address of EVERY send through dns.lookup, which answers even an IP literal only on the next
 * tick: per packet a closure and a tick, and each packet leaves only after the pacer's whole sub-tick has run,
 * and one sent just before close() never leaves (the socket is gone by the next tick). Asterisk gives the media
 * address as an IP literal (UNICASTRTP_LOCAL_ADDRESS), so a literal is answered at once and the packet goes to
 * the kernel inside send(); a name still resolves through DNS.
 */
function literalFirstLookup(hostname: string, options: LookupOneOptions | number, callback: LookupCallback): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, options as LookupOneOptions, callback);
}

function bind(host: string, port: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', lookup: literalFirstLookup });
    const onAbort = () => {
      socket.removeAllListeners();
      socket.close();
      reject(signal!.reason instanceof Error ? signal!.reason : new Error('RTP bind aborted'));
    };
    socket.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      socket.close();
      reject(err);
    });
    // listening before binding: with an IP literal (literalFirstLookup) the bind completes inside bind() itself, and a
    // listener added after it would never be removed (a later abort would close the socket of a live, or closed, call)
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind(port, host, () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Tries the even ports of the range from a random start, so concurrent calls rarely collide. */
async function bindInRange(host: string, [min, max]: [number, number], signal?: AbortSignal): Promise<Socket> {
  const first = min % 2 === 0 ? min : min + 1;
  const count = Math.floor((max - first) / 2) + 1;
  if (!Number.isInteger(min) || !Number.isInteger(max) || count < 1 || min < 1 || max > 65535) {
    throw new RangeError(`RTP port range [${min}, ${max}] holds no even port`);
  }
  const offset = randomInt(0, count);
  for (let i = 0; i < count; i++) {
    signal?.throwIfAborted();
    const port = first + ((offset + i) % count) * 2;
    try {
      return await bind(host, port, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new Error(`no free RTP port in [${min}, ${max}] on ${host}`);
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
