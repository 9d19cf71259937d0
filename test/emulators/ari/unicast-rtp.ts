import { createSocket, type Socket } from 'node:dgram';
import { parseRtpPacket, RtpStream } from './wire.js';

/** Asterisk's strict RTP: a new source must send this many packets in a row before it is accepted. */
export const STRICT_RTP_PROBATION = 4;

export interface UnicastRtpStats {
  sent: number;
  received: number;
  droppedStrict: number;
  droppedMalformed: number;
  /** packets the app sent that were not 172-byte PT 0 */
  wrongFormat: number;
}

/**
 * The Asterisk side of an externalMedia channel: one UDP socket at UNICASTRTP_LOCAL_ADDRESS:PORT that sends
 * the bridge's audio to external_host (160-byte μ-law, PT 0, marker 0) and takes the app's audio back, with
 * strict RTP source learning.
 */
export class UnicastRtpEndpoint {
  readonly stats: UnicastRtpStats = { sent: 0, received: 0, droppedStrict: 0, droppedMalformed: 0, wrongFormat: 0 };
  readonly #socket: Socket;
  readonly #out = new RtpStream();
  #learned: string;
  #candidate: { source: string; count: number } | null = null;
  #closed = false;
  onPayload: (ulaw: Buffer) => void = () => {};

  private constructor(
    socket: Socket,
    readonly remote: { address: string; port: number },
  ) {
    this.#socket = socket;
    this.#learned = `${remote.address}:${remote.port}`;
    socket.on('message', (msg, rinfo) => this.#receive(msg, `${rinfo.address}:${rinfo.port}`));
  }

  static async open(host: string, remote: { address: string; port: number }): Promise<UnicastRtpEndpoint> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UnicastRtpEndpoint(socket, remote);
  }

  get local(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  /** Bridge audio towards the app. */
  send(ulaw: Buffer): void {
    if (this.#closed) return;
    this.stats.sent++;
    this.#socket.send(this.#out.packet(ulaw, 0), this.remote.port, this.remote.address);
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
    if (p.payloadType !== 0 || p.payload.length !== 160) this.stats.wrongFormat++;
    if (p.payloadType !== 0) return;
    this.stats.received++;
    this.onPayload(p.payload);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}
