import { endianness } from 'node:os';

const HOST_IS_LE = endianness() === 'LE';

/** PCM16 samples → little-endian bytes (a view on little-endian hosts, a copy otherwise). */
export function pcm16ToLeBytes(pcm: Int16Array): Buffer {
  if (HOST_IS_LE) return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const out = Buffer.allocUnsafe(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i]!, i * 2);
  return out;
}

/** Little-endian bytes → PCM16 samples (always a copy: ws buffers may sit at odd offsets). */
export function leBytesToPcm16(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  if (HOST_IS_LE) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, n * 2));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}
