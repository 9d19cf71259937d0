/**
 * The one clock behaviour reads: timeouts, retries, grace periods and "how long ago". Production passes
 * `systemClock`; tests pass a fake one (test/helpers/fake-clock.ts) and move time by hand, so a 60 s grace period
 * takes no time and no test sleeps. Logging timestamps do not go through it.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface Clock extends Timers {
  /** milliseconds since the epoch (the fake clock starts wherever the test says) */
  now(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A timer that does not keep the process up on its own (tombstones, grace periods, bounds): on the system clock it
 * is unref'd, on a fake clock it is just a timer.
 */
export function backgroundTimer(clock: Clock, fn: () => void, ms: number): unknown {
  const handle = clock.setTimeout(fn, ms);
  (handle as { unref?: () => void } | null)?.unref?.();
  return handle;
}
