import { createSocket, type Socket } from 'node:dgram';
import { ImpairedLink, type NetworkImpairment } from './impairment.js';
import { parseRtpPacket, RtpStream, ulawDecode } from './wire.js';

/** What the app asked for: μ-law works both ways; slin16 comes as PT 118 but audio sent back is dropped. */
export type ExternalMediaFormat = 'ulaw' | 'slin16';
const SLIN16_PT = 118;

/** Asterisk's strict RTP: a new source must send this many packets in a row before it is accepted. */
export const STRICT_RTP_PROBATION = 4;

export interface UnicastRtpStats {
  sent: number;
  received: number;
  droppedStrict: number;
  droppedMalformed: number;
  /** packets the app sent that were not 172-byte PT 0 */
  wrongFormat: number;
  /** 16 kHz audio the app sent back on a slin16 channel: Asterisk drops it */
  droppedSlin16: number;
}

/**
 * The Asterisk side of an externalMedia channel: one UDP socket at UNICASTRTP_LOCAL_ADDRESS:PORT that sends
 * the bridge's audio to external_host (160-byte μ-law, PT 0, marker 0) and takes the app's audio back, with
 * strict RTP source learning.
 */
export class UnicastRtpEndpoint {
  readonly stats: UnicastRtpStats = {
    sent: 0,
    received: 0,
    droppedStrict: 0,
    droppedMalformed: 0,
    wrongFormat: 0,
    droppedSlin16: 0,
  };
  readonly #socket: Socket;
  readonly #out = new RtpStream();
  #learned: string;
  #candidate: { source: string; count: number } | null = null;
  #closed = false;
  #network: ImpairedLink | null = null;
  onPayload: (ulaw: Buffer) => void = () => {};
  /** performance.now() of every audible packet the app sent */
  readonly audibleAt: number[] = [];

  private constructor(
    socket: Socket,
    readonly remote: { address: string; port: number },
    readonly format: ExternalMediaFormat,
  ) {
    this.#socket = socket;
    this.#learned = `${remote.address}:${remote.port}`;
    socket.on('message', (msg, rinfo) => this.#receive(msg, `${rinfo.address}:${rinfo.port}`));
  }

  static async open(
    host: string,
    remote: { address: string; port: number },
    format: ExternalMediaFormat = 'ulaw',
  ): Promise<UnicastRtpEndpoint> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UnicastRtpEndpoint(socket, remote, format);
  }

  /** the socket is closed (the channel went away): leak checks */
  get closed(): boolean {
    return this.#closed;
  }

  get local(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  /** Bridge audio towards the app. */
  send(ulaw: Buffer): void {
    if (this.#closed) return;
    this.stats.sent++;
    const packet = this.format === 'slin16' ? this.#out.packet(toSlin16(ulaw), SLIN16_PT) : this.#out.packet(ulaw, 0);
    if (this.#network) this.#network.push(packet);
    else this.#socket.send(packet, this.remote.port, this.remote.address);
  }

  /** Impair the network between Asterisk and the app from now on (null: a clean network again). */
  impair(opts: NetworkImpairment | null): ImpairedLink | null {
    this.#network?.close();
    this.#network = opts
      ? new ImpairedLink(opts, (p) => {
          if (!this.#closed) this.#socket.send(p, this.remote.port, this.remote.address);
        })
      : null;
    return this.#network;
  }

  get network(): ImpairedLink | null {
    return this.#network;
  }

  /** Arbitrary bytes from Asterisk's own socket to the app (malformed-packet tests: the source is right). */
  sendRaw(bytes: Buffer): void {
    if (!this.#closed) this.#socket.send(bytes, this.remote.port, this.remote.address);
  }

  #receive(msg: Buffer, source: string): void {
    const p = parseRtpPacket(msg);
    if (!p) {
      this.stats.droppedMalformed++;
      return;
    }
    if (source !== this.#learned) {
      // strict RTP: learn the new source only after a run of packets from it
      if (this.#candidate?.source === source) this.#candidate.count++;
      else this.#candidate = { source, count: 1 };
      if (this.#candidate.count < STRICT_RTP_PROBATION) {
        this.stats.droppedStrict++;
        return;
      }
      this.#learned = source;
      this.#candidate = null;
    }
    if (this.format === 'slin16') {
      this.stats.droppedSlin16++;
      return;
    }
    if (p.payloadType !== 0 || p.payload.length !== 160) this.stats.wrongFormat++;
    if (p.payloadType !== 0) return;
    this.stats.received++;
    if (ulawDecode(p.payload).some((v) => Math.abs(v) > 500)) this.audibleAt.push(performance.now());
    this.onPayload(p.payload);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#network?.close();
    this.#socket.close();
  }
}

/** 8 kHz μ-law frame → 16 kHz signed linear, big-endian (network order), sample-doubled. */
function toSlin16(ulaw: Buffer): Buffer {
  const pcm = ulawDecode(ulaw);
  const out = Buffer.alloc(pcm.length * 4);
  for (let i = 0; i < pcm.length; i++) {
    out.writeInt16BE(pcm[i]!, i * 4);
    out.writeInt16BE(pcm[i]!, i * 4 + 2);
  }
  return out;
}
