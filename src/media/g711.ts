import alawmulaw from 'alawmulaw';

/** μ-law code for digital silence (ITU-T G.711). */
export const MULAW_SILENCE = 0xff;
/** A-law code for digital silence (ITU-T G.711, even bits inverted). */
export const ALAW_SILENCE = 0xd5;

/*
 * Table-driven G.711. The tables are filled once from `alawmulaw` (the reference implementation), so the
 * fast path is bit-identical to it by construction: 256-entry decode tables and full 64 Ki-entry encode
 * tables (64 KiB each, indexed by the sample's 16-bit pattern; cheaper than a segment search per sample).
 */
const MULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
const MULAW_ENCODE = new Uint8Array(65536);
const ALAW_ENCODE = new Uint8Array(65536);

for (let code = 0; code < 256; code++) {
  MULAW_DECODE[code] = alawmulaw.mulaw.decodeSample(code);
  ALAW_DECODE[code] = alawmulaw.alaw.decodeSample(code);
}
for (let sample = -32768; sample < 32768; sample++) {
  MULAW_ENCODE[sample & 0xffff] = alawmulaw.mulaw.encodeSample(sample) & 0xff;
  ALAW_ENCODE[sample & 0xffff] = alawmulaw.alaw.encodeSample(sample) & 0xff;
}

function encodeWith(table: Uint8Array, pcm: Int16Array, out?: Uint8Array): Uint8Array {
  const n = pcm.length;
  const dst = out ?? new Uint8Array(n);
  if (dst.length < n) throw new RangeError(`G.711 encode: output holds ${dst.length} bytes, need ${n}`);
  for (let i = 0; i < n; i++) dst[i] = table[pcm[i]! & 0xffff]!;
  return dst.length === n ? dst : dst.subarray(0, n);
}

function decodeWith(table: Int16Array, bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length;
  const dst = out ?? new Int16Array(n);
  if (dst.length < n) throw new RangeError(`G.711 decode: output holds ${dst.length} samples, need ${n}`);
  for (let i = 0; i < n; i++) dst[i] = table[bytes[i]!]!;
  return dst.length === n ? dst : dst.subarray(0, n);
}

/** PCM16 → μ-law. Writes into `out` when given (must be at least as long as `pcm`). */
export function mulawEncode(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  return encodeWith(MULAW_ENCODE, pcm, out);
}

/** μ-law → PCM16. Writes into `out` when given. */
export function mulawDecode(bytes: Uint8Array, out?: Int16Array): Int16Array {
  return decodeWith(MULAW_DECODE, bytes, out);
}

/** PCM16 → A-law. Writes into `out` when given. */
export function alawEncode(pcm: Int16Array, out?: Uint8Array): Uint8Array {
  return encodeWith(ALAW_ENCODE, pcm, out);
}

/** A-law → PCM16. Writes into `out` when given. */
export function alawDecode(bytes: Uint8Array, out?: Int16Array): Int16Array {
  return decodeWith(ALAW_DECODE, bytes, out);
}
