/**
 * The configured RTP port range, shared by all calls. A port is leased while a call's socket holds it and
 * returned on release; `inUse` is what the leak tests count.
 */
export class RtpPortPool {
  readonly #inUse = new Set<number>();
  #cursor: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (min > max) throw new RangeError(`RTP port range ${min}-${max} is empty`);
    this.#cursor = min;
  }

  get inUse(): number {
    return this.#inUse.size;
  }

  get size(): number {
    return this.max - this.min + 1;
  }

  /**
   * Try free ports in round-robin order until `bind` succeeds (a port may be taken by another process).
   * Round robin rather than lowest-first so a just-released port is not reused while stray packets still arrive.
   */
  async lease<T>(bind: (port: number) => Promise<T>, signal?: AbortSignal): Promise<{ port: number; value: T }> {
    let lastError: unknown = null;
    for (let tried = 0; tried < this.size; tried++) {
      signal?.throwIfAborted();
      const port = this.#cursor;
      this.#cursor = port >= this.max ? this.min : port + 1;
      if (this.#inUse.has(port)) continue;
      this.#inUse.add(port);
      try {
        return { port, value: await bind(port) };
      } catch (err) {
        this.#inUse.delete(port);
        if (!isAddressInUse(err)) throw err;
        lastError = err;
      }
    }
    throw new NoRtpPortError(this.min, this.max, this.#inUse.size, lastError);
  }

  release(port: number): void {
    this.#inUse.delete(port);
  }
}

function isAddressInUse(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && 'code' in err && (err.code === 'EADDRINUSE' || err.code === 'EACCES')
  );
}

/** Every port of the range is in use: the call cannot get media (telephony.asterisk.rtpPortMin/rtpPortMax). */
export class NoRtpPortError extends Error {
  constructor(min: number, max: number, inUse: number, cause: unknown) {
    super(`no free RTP port in ${min}-${max} (${inUse} in use): telephony.asterisk.rtpPortMin/rtpPortMax`, { cause });
    this.name = 'NoRtpPortError';
  }
}
