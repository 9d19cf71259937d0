/**
 * Cuts a stream of pushes (20 ms frames, or any length) into the fixed windows the classifier works on, carrying
 * the remainder over to the next push. One copy for the in-thread Endpointer and the worker-fed Silero VAD, so both
 * see the same windows at the same sample positions.
 */
export class WindowAccumulator {
  readonly #window: Int16Array;
  #fill = 0;

  constructor(size: number) {
    this.#window = new Int16Array(size);
  }

  /**
   * Appends `pcm`; calls `onWindow` for each window it completes, in order. The window is this accumulator's own
   * buffer, valid only during the call: keep a copy (`slice()`) to hold on to it.
   */
  push(pcm: Int16Array, onWindow: (window: Int16Array) => void): void {
    const size = this.#window.length;
    let at = 0;
    while (at < pcm.length) {
      const take = Math.min(size - this.#fill, pcm.length - at);
      this.#window.set(pcm.subarray(at, at + take), this.#fill);
      this.#fill += take;
      at += take;
      if (this.#fill === size) {
        this.#fill = 0;
        onWindow(this.#window);
      }
    }
  }

  /** Drops a partly filled window (the audio before a reset). */
  clear(): void {
    this.#fill = 0;
  }
}
