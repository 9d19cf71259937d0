/** L16 on jambonz sockets is signed 16-bit little-endian PCM. These helpers never alias the socket's buffer. */

/** Decode little-endian L16 bytes; the caller checks the length is even. */
export function l16ToPcm(bytes: Uint8Array): Int16Array {
  const samples = new Int16Array(bytes.length >> 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

/** Encode PCM16 as little-endian L16 bytes. */
export function pcmToL16(pcm: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i] ?? 0, i * 2);
  return out;
}
