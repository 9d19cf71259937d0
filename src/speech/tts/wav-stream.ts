import { VoicebotError } from '../../core/errors.js';

/** A WAV stream could not be understood. */
export class WavStreamError extends VoicebotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { kind: 'protocol', ...options });
  }
}

/**
 * Incremental reader for a PCM16 WAV arriving in pieces (a pipe or an HTTP body), which may claim a bogus data
 * size (espeak-ng writes 0x7ffff000 to a pipe): the data chunk runs to the end of the stream.
 * `push()` returns the samples that became complete; an odd trailing byte waits for the next piece.
 */
export class WavStreamReader {
  #head = Buffer.alloc(0);
  readonly #pcm = new Pcm16Reader();
  #inData = false;
  sampleRate = 0;
  channels = 0;

  push(bytes: Uint8Array): Int16Array {
    let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!this.#inData) {
      this.#head = Buffer.concat([this.#head, buf]);
      const dataAt = this.#parseHeader();
      if (dataAt < 0) return new Int16Array(0);
      buf = this.#head.subarray(dataAt);
      this.#head = Buffer.alloc(0);
      this.#inData = true;
    }
    return this.#samples(buf);
  }

  get started(): boolean {
    return this.#inData;
  }

  /** Offset of the first data byte in `head`, or -1 while the header is still incomplete. */
  #parseHeader(): number {
    const h = this.#head;
    if (h.length < 12) return -1;
    if (h.toString('latin1', 0, 4) !== 'RIFF' || h.toString('latin1', 8, 12) !== 'WAVE') {
      throw new WavStreamError('not a WAV stream (no RIFF/WAVE header)');
    }
    let at = 12;
    while (at + 8 <= h.length) {
      const id = h.toString('latin1', at, at + 4);
      const size = h.readUInt32LE(at + 4);
      if (id === 'data') {
        if (!this.sampleRate) throw new WavStreamError('WAV data before its fmt chunk');
        return at + 8;
      }
      if (at + 8 + size > h.length) return -1;
      if (id === 'fmt ') {
        const format = h.readUInt16LE(at + 8);
        this.channels = h.readUInt16LE(at + 10);
        this.sampleRate = h.readUInt32LE(at + 12);
        const bits = h.readUInt16LE(at + 22);
        // 0xfffe = WAVE_FORMAT_EXTENSIBLE, used by some servers for plain PCM
        if ((format !== 1 && format !== 0xfffe) || bits !== 16) {
          throw new WavStreamError(`WAV stream is format ${format} with ${bits} bits; only 16-bit PCM is supported`);
        }
        if (this.channels !== 1)
          throw new WavStreamError(`WAV stream has ${this.channels} channels; only mono is supported`);
        if (this.sampleRate < 4000 || this.sampleRate > 192_000) {
          throw new WavStreamError(`WAV stream has an implausible sample rate ${this.sampleRate}`);
        }
      }
      at += 8 + size + (size % 2);
    }
    if (h.length > 64 * 1024) throw new WavStreamError('WAV header larger than 64 KiB');
    return -1;
  }

  #samples(buf: Uint8Array): Int16Array {
    return this.#pcm.push(buf);
  }
}

/** Little-endian PCM16 from a byte stream whose pieces may split a sample. */
export class Pcm16Reader {
  #carry: number | null = null;

  push(bytes: Uint8Array): Int16Array {
    let src = bytes;
    if (this.#carry !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.#carry;
      joined.set(bytes, 1);
      src = joined;
      this.#carry = null;
    }
    const n = src.length >> 1;
    if (src.length % 2) this.#carry = src[src.length - 1] as number;
    const out = new Int16Array(n);
    const view = new DataView(src.buffer, src.byteOffset, n * 2);
    for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }
}
