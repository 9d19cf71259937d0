import { VoicebotError } from '../core/errors.js';

/** RTP (RFC 3550) fixed header, CSRC list, header extension and padding; wrap-aware sequence/timestamp math. */

export interface RtpPacket {
  version: number;
  padding: boolean;
  extension: boolean;
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  /** Profile-defined 16 bits of the header extension (present when `extension`). */
  extensionProfile?: number;
  /** Header extension body, a multiple of 4 bytes (present when `extension`). */
  extensionData?: Buffer;
  /** Payload without padding (a view into the parsed buffer: copy it to keep it past the callback). */
  payload: Buffer;
  /** Padding bytes after the payload (including the count byte); 0 when `padding` is false. */
  paddingLength?: number;
}

export type RtpPacketInit = Partial<RtpPacket> &
  Pick<RtpPacket, 'payload' | 'payloadType' | 'sequenceNumber' | 'timestamp' | 'ssrc'>;

export class RtpParseError extends VoicebotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { kind: 'protocol', ...options });
  }
}

const HEADER_BYTES = 12;

export function parseRtp(buf: Buffer): RtpPacket {
  if (buf.length < HEADER_BYTES) throw new RtpParseError(`RTP packet too short: ${buf.length} bytes`);
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  const version = b0 >> 6;
  if (version !== 2) throw new RtpParseError(`RTP version ${version}, expected 2`);
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let at = HEADER_BYTES + csrcCount * 4;
  if (at > buf.length) throw new RtpParseError(`RTP CSRC list (${csrcCount}) runs past the packet end`);
  const csrcs: number[] = [];
  for (let i = 0; i < csrcCount; i++) csrcs.push(buf.readUInt32BE(HEADER_BYTES + i * 4));

  let extensionProfile: number | undefined;
  let extensionData: Buffer | undefined;
  if (extension) {
    if (at + 4 > buf.length) throw new RtpParseError('RTP header extension header runs past the packet end');
    extensionProfile = buf.readUInt16BE(at);
    const words = buf.readUInt16BE(at + 2);
    const end = at + 4 + words * 4;
    if (end > buf.length) throw new RtpParseError(`RTP header extension (${words} words) runs past the packet end`);
    extensionData = buf.subarray(at + 4, end);
    at = end;
  }

  let end = buf.length;
  let paddingLength = 0;
  if (padding) {
    paddingLength = buf[buf.length - 1]!;
    if (paddingLength === 0 || at + paddingLength > buf.length) {
      throw new RtpParseError(`RTP padding count ${paddingLength} is invalid for a ${buf.length}-byte packet`);
    }
    end -= paddingLength;
  }

  const packet: RtpPacket = {
    version,
    padding,
    extension,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcs,
    payload: buf.subarray(at, end),
    paddingLength,
  };
  if (extension) {
    packet.extensionProfile = extensionProfile;
    packet.extensionData = extensionData;
  }
  return packet;
}

/**
 * Builds an RTP packet. `extension` is implied by `extensionData`; `padding` by a non-zero `paddingLength`
 * (or `padding: true`, which pads to a multiple of 4 bytes).
 */
export function serializeRtp(p: RtpPacketInit): Buffer {
  const buf = Buffer.allocUnsafe(rtpPacketLength(p));
  writeRtp(p, buf);
  return buf;
}

/** Bytes serializeRtp / writeRtp produce for `p` (validates it). */
export function rtpPacketLength(p: RtpPacketInit): number {
  const csrcs = p.csrcs;
  if (csrcs && csrcs.length > 15) throw new RangeError(`RTP allows at most 15 CSRCs, got ${csrcs.length}`);
  if (p.payloadType < 0 || p.payloadType > 127) throw new RangeError(`RTP payload type ${p.payloadType}`);
  const ext = p.extensionData;
  if (ext && ext.length % 4 !== 0) throw new RangeError('RTP header extension data must be a multiple of 4 bytes');
  const headerBytes = HEADER_BYTES + (csrcs ? csrcs.length * 4 : 0) + (ext ? 4 + ext.length : 0);
  const paddingLength = paddingFor(p, headerBytes);
  return headerBytes + p.payload.length + paddingLength;
}

function paddingFor(p: RtpPacketInit, headerBytes: number): number {
  let paddingLength = p.paddingLength ?? 0;
  if (p.padding && paddingLength === 0) paddingLength = 4 - ((headerBytes + p.payload.length) % 4) || 4;
  if (paddingLength > 255) throw new RangeError(`RTP padding ${paddingLength} > 255`);
  return paddingLength;
}

/**
 * Serializes `p` into `buf` from offset 0 (a reused send buffer: no allocation per packet); returns the bytes
 * written. Throws a RangeError when `buf` is too short.
 */
export function writeRtp(p: RtpPacketInit, buf: Buffer): number {
  const length = rtpPacketLength(p);
  if (buf.length < length) throw new RangeError(`RTP packet needs ${length} bytes, buffer holds ${buf.length}`);
  const csrcs = p.csrcs;
  const csrcCount = csrcs ? csrcs.length : 0;
  const ext = p.extensionData;
  const headerBytes = HEADER_BYTES + csrcCount * 4 + (ext ? 4 + ext.length : 0);
  const paddingLength = paddingFor(p, headerBytes);
  buf[0] = 0x80 | (paddingLength ? 0x20 : 0) | (ext ? 0x10 : 0) | csrcCount;
  buf[1] = (p.marker ? 0x80 : 0) | p.payloadType;
  buf.writeUInt16BE(p.sequenceNumber & 0xffff, 2);
  buf.writeUInt32BE(p.timestamp >>> 0, 4);
  buf.writeUInt32BE(p.ssrc >>> 0, 8);
  let at = HEADER_BYTES;
  for (let i = 0; i < csrcCount; i++) {
    buf.writeUInt32BE(csrcs![i]! >>> 0, at);
    at += 4;
  }
  if (ext) {
    buf.writeUInt16BE(p.extensionProfile ?? 0, at);
    buf.writeUInt16BE(ext.length / 4, at + 2);
    ext.copy(buf, at + 4);
    at += 4 + ext.length;
  }
  p.payload.copy(buf, at);
  at += p.payload.length;
  if (paddingLength) {
    buf.fill(0, at, at + paddingLength - 1);
    buf[at + paddingLength - 1] = paddingLength;
  }
  return length;
}

/** Signed distance a − b between 16-bit sequence numbers, in [-32768, 32767]. */
export function seqDistance(a: number, b: number): number {
  return ((((a - b) & 0xffff) + 32768) & 0xffff) - 32768;
}

/** True when sequence number a comes after b (wrap-aware). */
export function seqNewer(a: number, b: number): boolean {
  return seqDistance(a, b) > 0;
}

/** Signed distance a − b between 32-bit RTP timestamps. */
export function tsDistance(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when timestamp a comes after b (wrap-aware). */
export function tsNewer(a: number, b: number): boolean {
  return tsDistance(a, b) > 0;
}

/** Adds to a 16-bit sequence number, wrapping. */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) & 0xffff;
}

/** Adds to a 32-bit timestamp, wrapping. */
export function tsAdd(ts: number, n: number): number {
  return (ts + n) >>> 0;
}
