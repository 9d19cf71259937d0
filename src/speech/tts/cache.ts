/** Synthesized audio of one sentence. */
export interface CachedAudio {
  pcm: Int16Array;
  sampleRate: number;
}

/**
 * Least-recently-used cache of synthesized sentences, bounded by entry count and total bytes, so fixed prompts
 * ("How can I help?") cost nothing after the first call. Map order is the recency order.
 */
export class AudioCache {
  readonly #entries = new Map<string, CachedAudio>();
  #bytes = 0;
  readonly #maxEntries: number;
  readonly #maxBytes;

  constructor(maxEntries: number, maxBytes = 64 * 1024 * 1024) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  static key(provider: string, voice: string, text: string): string {
    return `${provider}\u0000${voice}\u0000${text}`;
  }

  get(key: string): CachedAudio | undefined {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, audio: CachedAudio): void {
    if (this.#maxEntries === 0 || audio.pcm.byteLength > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes -= old.pcm.byteLength;
      this.#entries.delete(key);
    }
    this.#entries.set(key, audio);
    this.#bytes += audio.pcm.byteLength;
    for (const [k, v] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.pcm.byteLength;
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
