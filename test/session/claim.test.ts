/**
 * claimLease: how an instance claims a call another process served (issue 18). Deterministic, on a manual clock and
 * the in-memory lease store (the Redis store keeps the same contract: test/session/lease.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { claimLease, type ClaimOutcome } from '../../src/session/claim.js';
import { MemoryLeaseStore, type LeaseStore } from '../../src/session/lease.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Run a claim to its end, letting time pass in 5 ms steps (every wait of the claim is on `clock`). */
async function claimOn(clock: FakeClock, store: LeaseStore, maxWaitMs: number): Promise<ClaimOutcome> {
  let outcome: ClaimOutcome | null = null;
  const claim = claimLease({ store, callId: 'call', owner: 'b', ttlMs: 1000, maxWaitMs, clock }).then(
    (o) => (outcome = o),
  );
  for (let i = 0; i < 10_000 && outcome === null; i++) {
    await new Promise((r) => setImmediate(r));
    clock.advance(5);
  }
  await claim;
  return outcome!;
}

/** A store whose first `n` commands time out (the client gave up on them), then answers as `store` does. */
function timingOut(store: MemoryLeaseStore, n: number): LeaseStore {
  let left = n;
  const late = <T>(answer: () => Promise<T>): Promise<T> =>
    left-- > 0 ? Promise.reject(new Error('Command timed out')) : answer();
  return {
    acquire: (...a) => late(() => store.acquire(...a)),
    renew: (...a) => late(() => store.renew(...a)),
    release: (...a) => late(() => store.release(...a)),
    holder: (...a) => late(() => store.holder(...a)),
    expiresInMs: (...a) => late(() => store.expiresInMs(...a)),
    close: () => store.close(),
  };
}

describe('claimLease', () => {
  it("takes a dead holder's lease the moment it runs out", async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore(clock);
    await store.acquire('call', 'a', 1000); // a died holding it
    const t0 = clock.now();
    expect(await claimOn(clock, store, 3000)).toBe('claimed');
    expect(clock.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(clock.now() - t0).toBeLessThan(1100);
    expect(await store.holder('call')).toBe('b');
  });

  it('a first look that timed out (this process stalled: the store had answered) is asked again: the call is claimed', async () => {
    // a fresh process taking over many calls at once is busy for seconds; its first commands read as timeouts.
    // Giving up then ('unreachable') left the reopened socket with nobody serving the caller: the call was lost.
    const clock = new FakeClock();
    const store = new MemoryLeaseStore(clock);
    await store.acquire('call', 'a', 1000);
    expect(await claimOn(clock, timingOut(store, 2), 3000)).toBe('claimed');
    expect(await store.holder('call')).toBe('b');
  });

  it('a store that never answers: unreachable once the wait is over, not before', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore(clock);
    const t0 = clock.now();
    expect(await claimOn(clock, timingOut(store, Number.POSITIVE_INFINITY), 3000)).toBe('unreachable');
    expect(clock.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(await store.holder('call')).toBeNull();
  });

  it('a live holder that keeps renewing keeps its call: held after the wait', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore(clock);
    await store.acquire('call', 'a', 1000);
    // a renews on the same clock, every third of its lease
    const tick = (): void => {
      void store.renew('call', 'a', 1000);
      clock.setTimeout(tick, 333);
    };
    clock.setTimeout(tick, 333);
    expect(await claimOn(clock, store, 3000)).toBe('held');
    expect(await store.holder('call')).toBe('a');
  });
});
