import { systemClock, type Clock } from '../core/clock.js';
import { Waiters } from '../core/waiters.js';
import type { LeaseStore } from './lease.js';

/**
 * How a claim on another process's call ended. `claimed`: the lease is ours (for `ttlMs`, to be renewed by whoever
 * serves the call); `taken`: another instance claimed it first (it serves the call now); `held`: the holder kept
 * renewing until `maxWaitMs` passed (it is alive: never take a live process's call); `unreachable`: the lease store
 * did not answer.
 */
export type ClaimOutcome = 'claimed' | 'taken' | 'held' | 'unreachable';

export interface ClaimOptions {
  store: LeaseStore;
  callId: string;
  /** this process's instance id */
  owner: string;
  ttlMs: number;
  /** how long to wait for the holder's lease to run out */
  maxWaitMs: number;
  clock?: Clock;
  signal?: AbortSignal;
}

/** Retry this soon after the store says the lease runs out (its clock and ours are not the same clock). */
const AFTER_EXPIRY_MS = 5;
/** While a live holder renews: ask again every tenth of a lease, at least this far apart. */
const MIN_POLL_MS = 25;

/**
 * Claim a call whose process may have died: take its lease the moment it runs out (the store says when), so a crash
 * costs at most one lease length. Atomic in the store: when several instances claim at once, exactly one wins and
 * the others learn it (`taken`) at their next try. A holder that keeps renewing is alive and keeps its call (`held`).
 * A store that does not answer is asked again until `maxWaitMs` is over (`unreachable` only then): a command that
 * timed out because this process's event loop stalled (a fresh process taking over many calls) had an answer.
 */
export async function claimLease(o: ClaimOptions): Promise<ClaimOutcome> {
  const clock = o.clock ?? systemClock;
  const until = clock.now() + o.maxWaitMs;
  const poll = Math.max(MIN_POLL_MS, o.ttlMs / 10);
  /** the holder at our first answered look (undefined: not known yet) */
  let first: string | null | undefined;
  for (;;) {
    o.signal?.throwIfAborted();
    let wait = poll;
    let answered = true;
    try {
      if (first === undefined) first = await o.store.holder(o.callId);
      if (await o.store.acquire(o.callId, o.owner, o.ttlMs)) return 'claimed';
      const holder = await o.store.holder(o.callId);
      if (holder !== null && holder !== first) return 'taken';
      // a dead holder's lease: wake when it runs out; a live holder that lets go releases it early: look again soon
      wait = Math.min(wait, Math.max(0, (await o.store.expiresInMs(o.callId)) ?? 0) + AFTER_EXPIRY_MS);
    } catch (err) {
      if (o.signal?.aborted) throw err;
      answered = false;
    }
    const left = until - clock.now();
    if (left <= 0) return answered ? 'held' : 'unreachable';
    await sleep(clock, Math.min(left, wait), o.signal);
  }
}

/** Wait `ms` on `clock` (a Waiters wait nobody wakes, so it ends by its timeout), or until `signal` aborts. */
async function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  const elapsed = new Error('elapsed');
  await new Waiters().wait({ signal, clock, timeoutMs: ms, timeoutError: () => elapsed }).catch((err: unknown) => {
    if (err !== elapsed) throw err;
  });
}
