import type { Clock } from 'voicebot/core';

/**
 * The shared call state as the backend needs it to take over calls that another instance served (several instances
 * behind a balancer, one session store). The app builds it from the session store and the ownership leases.
 */
export interface CallRegistry {
  /**
   * A call stored and not over: whether a live process holds its lease, and whether its bot had handed it to a person
   * (the caller talks to an agent; the bot only listened on, and its end record is still to be written), and what
   * the process serving it stored about itself (`servedBy`: its `backendData`, absent when no process serves it).
   * null: nothing to resume (never stored, or ended).
   */
  lookup(
    callSid: string,
  ): Promise<{ held: boolean; handedOff?: boolean; servedBy?: Readonly<Record<string, unknown>> } | null>;
  /**
   * How long to wait for a holder to let go before giving up, ms: a dead process's lease runs out within one lease
   * length; a live one that lost its WS API socket lets go after the reconnect grace.
   */
  waitMs: number;
}

/**
 * What a wait for a call ended with: free to take over (`with-person`: free, and handed to a person already), nothing
 * to take over, or still held when the wait ran out.
 */
export type Availability = 'free' | 'with-person' | 'gone' | 'held';

/** How often the lease is looked at while a takeover waits: the wait costs the caller at most this much extra silence. */
const POLL_MS = 50;
/** one look-up is bounded by this; a store that does not answer counts as "still held" until the wait runs out */
const LOOKUP_TIMEOUT_MS = 1000;

/**
 * Waits until the call's lease is free (its holder died and the lease ran out, or it let go), the call is gone from
 * the store, or `registry.waitMs` passed. Polls on `clock`; `signal` (backend stopping) ends the wait as `gone`.
 */
export async function awaitFreeCall(
  registry: CallRegistry,
  callSid: string,
  clock: Clock,
  signal: AbortSignal,
): Promise<Availability> {
  const deadline = clock.now() + registry.waitMs;
  for (;;) {
    if (signal.aborted) return 'gone';
    const found = await bounded(registry.lookup(callSid), clock);
    if (found === null) return 'gone';
    if (found !== 'unknown' && !found.held) return found.handedOff ? 'with-person' : 'free';
    if (clock.now() >= deadline) return 'held';
    await sleep(clock, Math.min(POLL_MS, Math.max(1, deadline - clock.now())), signal);
  }
}

/** What a jambonz leg stores about the instance serving it (see `JambonzCallLeg.sessionData`). */
export const SERVED_AT = 'instanceUrl';

/**
 * The address (`instanceUrl`) the session store gives for the instance serving the call: what this deployment knows,
 * never what a request says. null: no instance serves it, it stored no address, or the store did not answer in time.
 */
export async function servingInstance(registry: CallRegistry, callSid: string, clock: Clock): Promise<string | null> {
  const found = await bounded(registry.lookup(callSid), clock);
  const url = found && found !== 'unknown' ? found.servedBy?.[SERVED_AT] : undefined;
  return typeof url === 'string' ? url : null;
}

async function bounded<T>(lookup: Promise<T | null>, clock: Clock): Promise<T | null | 'unknown'> {
  let timer: unknown;
  const timeout = new Promise<'unknown'>(
    (resolve) => (timer = clock.setTimeout(() => resolve('unknown'), LOOKUP_TIMEOUT_MS)),
  );
  try {
    return await Promise.race([lookup.catch(() => 'unknown' as const), timeout]);
  } finally {
    clock.clearTimeout(timer);
  }
}

function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
