/**
 * What a process killed with -9 leaves behind, for an instance run in the test's own process: from `kill()` on,
 * nothing it does reaches the world any more. Every method of a wrapped store or sink rejects (the process is gone:
 * no detach written, no lease released, no record sent), whatever the instance's code still runs in memory.
 */
export class KillSwitch {
  #dead = false;

  get dead(): boolean {
    return this.#dead;
  }

  kill(): void {
    this.#dead = true;
  }

  /** `target` with every method rejecting once the switch is thrown (properties read through). */
  wrap<T extends object>(target: T): T {
    return new Proxy(target, {
      get: (t, prop) => {
        const value: unknown = Reflect.get(t, prop, t);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown =>
          this.#dead
            ? Promise.reject(new Error('process killed'))
            : (value as (...a: unknown[]) => unknown).apply(t, args);
      },
    });
  }
}
