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

/**
 * Encode bot audio for the listen socket. Never an exact −1: while a mark is pending the media server takes the sample
 * 0xFFFF for a mark's marker (mod_audio_fork), drops it and reports the mark early, so −1 goes out as −2 (inaudible).
 */
export function botAudioToL16(pcm: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) {
    const s = pcm[i] ?? 0;
    out.writeInt16LE(s === -1 ? -2 : s, i * 2);
  }
  return out;
}
