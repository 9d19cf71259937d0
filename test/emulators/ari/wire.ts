/**
 * Minimal RTP and WAV code for the emulator. Deliberately independent of src/media so the test peer does not
 * share bugs with the code under test.
 */
import alawmulaw from 'alawmulaw';
import { readFileSync } from 'node:fs';

export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

export function parseRtpPacket(buf: Buffer): RtpHeader | null {
  if (buf.length < 12 || buf[0]! >> 6 !== 2) return null;
  const cc = buf[0]! & 0x0f;
  let offset = 12 + cc * 4;
  if (buf[0]! & 0x10) {
    if (buf.length < offset + 4) return null;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
  }
  let end = buf.length;
  if (buf[0]! & 0x20) end -= buf[buf.length - 1]!;
  if (offset > end) return null;
  return {
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: buf[1]! & 0x7f,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(offset, end),
  };
}

/** One outgoing RTP stream: fixed SSRC, seq +1, timestamp +samples. */
export class RtpStream {
  #seq = Math.floor(Math.random() * 65536);
  #ts = Math.floor(Math.random() * 2 ** 32);
  readonly ssrc = Math.floor(Math.random() * 2 ** 32) >>> 0;
  packet(payload: Buffer, payloadType = 0): Buffer {
    const buf = Buffer.alloc(12 + payload.length);
    buf[0] = 0x80;
    buf[1] = payloadType & 0x7f;
    buf.writeUInt16BE(this.#seq, 2);
    buf.writeUInt32BE(this.#ts >>> 0, 4);
    buf.writeUInt32BE(this.ssrc, 8);
    payload.copy(buf, 12);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ts = (this.#ts + payload.length) >>> 0;
    return buf;
  }
}

export const ulawEncode = (pcm: Int16Array): Buffer => Buffer.from(alawmulaw.mulaw.encode(pcm));
export const ulawDecode = (bytes: Uint8Array): Int16Array => alawmulaw.mulaw.decode(bytes);

/** PCM16 mono WAV → samples + rate (the shared clips are 16 kHz PCM16 mono). */
export function readPcmWav(path: string): { samples: Int16Array; sampleRate: number } {
  const buf = readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error(`${path}: not a WAV`);
  let off = 12;
  let rate = 0;
  let channels = 1;
  let bits = 16;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      rate = buf.readUInt32LE(off + 12);
      bits = buf.readUInt16LE(off + 22);
    } else if (id === 'data') {
      if (bits !== 16 || channels !== 1) throw new Error(`${path}: need PCM16 mono`);
      const data = buf.subarray(off + 8, off + 8 + size);
      const samples = new Int16Array(data.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
      return { samples, sampleRate: rate };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

/** 16 kHz → 8 kHz with a short low-pass (good enough for a test caller). */
export function to8k(samples: Int16Array, rate: number): Int16Array {
  if (rate === 8000) return samples;
  if (rate !== 16000) throw new Error(`test caller supports 8 or 16 kHz WAVs, got ${rate}`);
  const out = new Int16Array(samples.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const a = samples[2 * i - 1] ?? 0;
    const b = samples[2 * i]!;
    const c = samples[2 * i + 1] ?? 0;
    out[i] = Math.round((a + 2 * b + c) / 4);
  }
  return out;
}

export function writePcmWav(samples: Int16Array, sampleRate: number): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) data.writeInt16LE(samples[i]!, i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}
