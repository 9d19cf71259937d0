import { readFile } from 'node:fs/promises';
import { alawDecode, mulawDecode, mulawEncode } from './g711.js';
import { VoicebotError } from '../core/errors.js';

export type WavFormat = 'pcm16' | 'mulaw' | 'alaw';

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** Encoding in the file; `samples` is always decoded to PCM16. */
  format: WavFormat;
  /** PCM16, interleaved when channels > 1. */
  samples: Int16Array;
}

export class WavError extends VoicebotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { kind: 'protocol', ...options });
  }
}

const FORMAT_PCM = 1;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

interface FmtChunk {
  formatTag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

function parseFmt(buf: Buffer, at: number, size: number): FmtChunk {
  if (size < 16) throw new WavError(`WAV fmt chunk is ${size} bytes, needs at least 16`);
  let formatTag = buf.readUInt16LE(at);
  if (formatTag === FORMAT_EXTENSIBLE) {
    if (size < 40) throw new WavError(`WAV extensible fmt chunk is ${size} bytes, needs 40`);
    formatTag = buf.readUInt16LE(at + 24); // first two bytes of the sub-format GUID
  }
  return {
    formatTag,
    channels: buf.readUInt16LE(at + 2),
    sampleRate: buf.readUInt32LE(at + 4),
    blockAlign: buf.readUInt16LE(at + 12),
    bitsPerSample: buf.readUInt16LE(at + 14),
  };
}

function formatOf(fmt: FmtChunk): WavFormat {
  if (fmt.formatTag === FORMAT_PCM && fmt.bitsPerSample === 16) return 'pcm16';
  if (fmt.formatTag === FORMAT_MULAW && fmt.bitsPerSample === 8) return 'mulaw';
  if (fmt.formatTag === FORMAT_ALAW && fmt.bitsPerSample === 8) return 'alaw';
  throw new WavError(
    `unsupported WAV encoding: format tag ${fmt.formatTag}, ${fmt.bitsPerSample} bits ` +
      '(supported: PCM 16-bit, μ-law 8-bit, A-law 8-bit)',
  );
}

/**
 * Parses a RIFF/WAVE file. Skips unknown chunks (LIST, fact, ...) and honours the pad byte after odd-sized chunks.
 * A data chunk that claims more bytes than the file holds is read up to the end of the file: streaming writers
 * such as `espeak-ng --stdout` put a placeholder size there.
 */
export function readWav(buf: Buffer): WavAudio {
  if (buf.length < 12) throw new WavError(`WAV truncated: ${buf.length} bytes, a RIFF header needs 12`);
  if (buf.toString('latin1', 0, 4) !== 'RIFF') {
    throw new WavError(`not a RIFF file (starts with ${JSON.stringify(buf.toString('latin1', 0, 4))})`);
  }
  if (buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new WavError(`RIFF file is not WAVE (form type ${JSON.stringify(buf.toString('latin1', 8, 12))})`);
  }
  let fmt: FmtChunk | null = null;
  let at = 12;
  while (at + 8 <= buf.length) {
    const id = buf.toString('latin1', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      if (body + size > buf.length) throw new WavError(`WAV truncated inside the fmt chunk at byte ${at}`);
      fmt = parseFmt(buf, body, size);
    } else if (id === 'data') {
      if (!fmt) throw new WavError('WAV data chunk comes before the fmt chunk');
      const end = Math.min(body + size, buf.length);
      return decodeData(fmt, buf.subarray(body, end));
    }
    at = body + size + (size & 1); // chunks are word-aligned: odd sizes carry a pad byte
  }
  throw new WavError(fmt ? 'WAV has no data chunk (truncated?)' : 'WAV has no fmt chunk (truncated?)');
}

function decodeData(fmt: FmtChunk, data: Buffer): WavAudio {
  const format = formatOf(fmt);
  if (fmt.channels < 1) throw new WavError(`WAV declares ${fmt.channels} channels`);
  if (fmt.sampleRate < 1) throw new WavError(`WAV declares a sample rate of ${fmt.sampleRate} Hz`);
  const bytesPerSample = format === 'pcm16' ? 2 : 1;
  const frameBytes = bytesPerSample * fmt.channels;
  // Drop a trailing partial frame (truncated file) rather than misalign channels.
  const usable = data.length - (data.length % frameBytes);
  let samples: Int16Array;
  if (format === 'pcm16') {
    samples = new Int16Array(usable / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
  } else {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, usable);
    samples = format === 'mulaw' ? mulawDecode(bytes) : alawDecode(bytes);
  }
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, format, samples };
}

/** Writes a mono WAV file: PCM16 or μ-law (8-bit, format tag 7, with the `fact` chunk non-PCM formats need). */
export function writeWav(samples: Int16Array, sampleRate: number, format: 'pcm16' | 'mulaw' = 'pcm16'): Buffer {
  const pcm = format === 'pcm16';
  const bytesPerSample = pcm ? 2 : 1;
  const dataBytes = samples.length * bytesPerSample;
  const fmtSize = pcm ? 16 : 18;
  const factSize = pcm ? 0 : 12;
  const pad = dataBytes & 1;
  const total = 12 + 8 + fmtSize + factSize + 8 + dataBytes + pad;
  const buf = Buffer.alloc(total);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(total - 8, 4);
  buf.write('WAVE', 8, 'latin1');
  let at = 12;
  buf.write('fmt ', at, 'latin1');
  buf.writeUInt32LE(fmtSize, at + 4);
  buf.writeUInt16LE(pcm ? FORMAT_PCM : FORMAT_MULAW, at + 8);
  buf.writeUInt16LE(1, at + 10);
  buf.writeUInt32LE(sampleRate, at + 12);
  buf.writeUInt32LE(sampleRate * bytesPerSample, at + 16);
  buf.writeUInt16LE(bytesPerSample, at + 20);
  buf.writeUInt16LE(bytesPerSample * 8, at + 22);
  at += 8 + fmtSize; // cbSize (0) of the 18-byte form is already zero
  if (!pcm) {
    buf.write('fact', at, 'latin1');
    buf.writeUInt32LE(4, at + 4);
    buf.writeUInt32LE(samples.length, at + 8);
    at += factSize;
  }
  buf.write('data', at, 'latin1');
  buf.writeUInt32LE(dataBytes, at + 4);
  at += 8;
  if (pcm) {
    for (let i = 0; i < samples.length; i++) buf.writeInt16LE(samples[i]!, at + i * 2);
  } else {
    mulawEncode(samples, new Uint8Array(buf.buffer, buf.byteOffset + at, samples.length));
  }
  return buf;
}

/** Reads and parses a WAV file from disk (errors name the file). */
export async function readWavFile(path: string): Promise<WavAudio> {
  const buf = await readFile(path);
  try {
    return readWav(buf);
  } catch (err) {
    if (err instanceof WavError) throw new WavError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
}
