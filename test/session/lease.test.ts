import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeldLease, MemoryLeaseStore, RedisLeaseStore, type LeaseStore } from '../../src/session/lease.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/** The lease contract every store keeps; `expire(ms)` lets `ms` pass for the store. */
async function leaseContract(store: LeaseStore, id: string, expire: (ms: number) => Promise<void>) {
  expect(await store.acquire(id, 'a', 300)).toBe(true);
  expect(await store.acquire(id, 'b', 300)).toBe(false); // held: nobody else gets it
  expect(await store.holder(id)).toBe('a');
  expect(await store.renew(id, 'b', 300)).toBe(false); // only the holder renews
  expect(await store.release(id, 'b')).toBe(false); // … or releases
  expect(await store.renew(id, 'a', 300)).toBe(true);
  await expire(400);
  expect(await store.holder(id)).toBeNull();
  // ran out and nobody claimed it: the holder (it stalled) takes it back; once another holds it, it cannot
  expect(await store.renew(id, 'a', 300)).toBe(true);
  expect(await store.holder(id)).toBe('a');
  expect(await store.acquire(id, 'a', 300)).toBe(true); // the holder's claim extends it
  await expire(400);
  // many instances claim an expired call at once: exactly one wins
  const claims = await Promise.all(['b', 'c', 'd', 'e', 'f'].map((o) => store.acquire(id, o, 10_000)));
  expect(claims.filter(Boolean)).toHaveLength(1);
  const winner = ['b', 'c', 'd', 'e', 'f'][claims.indexOf(true)]!;
  expect(await store.holder(id)).toBe(winner);
  expect(await store.renew(id, 'a', 300)).toBe(false); // claimed by another: the old holder cannot take it back
  expect(await store.release(id, winner)).toBe(true);
  expect(await store.holder(id)).toBeNull();
}

describe('per-call leases', () => {
  it('memory store: exclusive, only the holder renews or releases, one winner after expiry', async () => {
    const clock = new FakeClock();
    await leaseContract(new MemoryLeaseStore(clock), 'call-m', (ms) => Promise.resolve(clock.advance(ms)));
  });

  describe('Redis store against a real redis-server', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('keeps the same contract across clients (SET NX PX, Lua compare-and-renew / compare-and-delete)', async () => {
      const stores = [0, 1, 2].map(() => new RedisLeaseStore({ url: redis.url, keyPrefix: 'lt:' }));
      try {
        await leaseContract(stores[0]!, 'call-r', async (ms) => {
          const until = Date.now() + ms;
          while ((await stores[0]!.holder('call-r')) !== null && Date.now() < until + 2000)
            await new Promise((r) => setTimeout(r, 25));
        });
        // three processes race for one call
        const claims = await Promise.all(stores.map((s, i) => s.acquire('call-race', `p${i}`, 5000)));
        expect(claims.filter(Boolean)).toHaveLength(1);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });

  describe('HeldLease', () => {
    const settle = () => new Promise((r) => setImmediate(r));

    it('renews every third of the lease, so it outlives its ttl while the process lives; release frees it', async () => {
      const clock = new FakeClock();
      const store = new MemoryLeaseStore(clock);
      const lost: string[] = [];
      const lease = await HeldLease.acquire({
        store,
        callId: 'c1',
        owner: 'a',
        ttlMs: 3000,
        clock,
        onLost: (why) => lost.push(why),
      });
      expect(lease).not.toBeNull();
      expect(
        await HeldLease.acquire({ store, callId: 'c1', owner: 'b', ttlMs: 3000, clock, onLost: () => {} }),
      ).toBeNull();
      for (let i = 0; i < 10; i++) {
        clock.advance(1000);
        await settle();
      }
      expect(await store.holder('c1')).toBe('a');
      expect(lost).toEqual([]);
      await lease!.release();
      expect(await store.holder('c1')).toBeNull();
      expect(clock.pending).toBe(0);
    });

    it('a renewal refused (another process claimed the call) is reported once', async () => {
      const clock = new FakeClock();
      const store = new MemoryLeaseStore(clock);
      const lost: string[] = [];
      const lease = await HeldLease.acquire({
        store,
        callId: 'c2',
        owner: 'a',
        ttlMs: 3000,
        clock,
        onLost: (w) => lost.push(w),
      });
      // the process stalls past its lease; another instance claims the call
      clock.stall(3500);
      expect(await store.acquire('c2', 'b', 3000)).toBe(true);
      clock.advance(1000);
      await settle();
      expect(lost).toEqual(['renewal refused: another process (b) claimed the call']);
      expect(lease!.held).toBe(false);
      expect(await store.holder('c2')).toBe('b');
      await lease!.release(); // gives nothing away that is not ours
      expect(await store.holder('c2')).toBe('b');
    });

    it('a stall past the lease that nobody used to claim the call costs nothing: the renewal takes it back', async () => {
      const clock = new FakeClock();
      const store = new MemoryLeaseStore(clock);
      const lost: string[] = [];
      const lease = await HeldLease.acquire({
        store,
        callId: 'c4',
        owner: 'a',
        ttlMs: 3000,
        clock,
        onLost: (w) => lost.push(w),
      });
      clock.stall(3500); // the event loop was busy past the lease (a fresh process's first calls)
      expect(await store.holder('c4')).toBeNull();
      clock.advance(1000);
      await settle();
      expect(lost).toEqual([]);
      expect(await store.holder('c4')).toBe('a');
      await lease!.release();
    });

    it('a renewal that timed out only because this process stalled (the store answered) is asked again: the call stays', async () => {
      // leaseMs 1000 renews every 333 ms; ioredis gives up on a command after 1 s, so one late answer used to be
      // past the lease's validity and cost the call (detached, taken over by another instance: "Sorry about that")
      const clock = new FakeClock();
      const store = new MemoryLeaseStore(clock);
      const lost: string[] = [];
      const lease = await HeldLease.acquire({
        store,
        callId: 'c5',
        owner: 'a',
        ttlMs: 1000,
        clock,
        onLost: (w) => lost.push(w),
      });
      const renew = store.renew.bind(store);
      const asked: number[] = [];
      let timeouts = 1;
      store.renew = (...args) => {
        asked.push(clock.now());
        if (timeouts-- <= 0) return renew(...args);
        clock.stall(1200); // the event loop was busy while the store answered: the client read a timeout
        return Promise.reject(new Error('Command timed out'));
      };
      clock.advance(333);
      await settle();
      expect(asked).toEqual([1333, 2533]); // asked again at once, not a renewal period later
      expect(lost).toEqual([]);
      expect(lease!.held).toBe(true);
      expect(await store.holder('c5')).toBe('a'); // nobody claimed it meanwhile: taken back
      clock.advance(2000);
      await settle();
      expect(lost).toEqual([]);
      await lease!.release();
      expect(await store.holder('c5')).toBeNull();
    });

    it('a store that stops answering costs the lease only once it would have run out', async () => {
      const clock = new FakeClock();
      const store = new MemoryLeaseStore(clock);
      const lost: string[] = [];
      const lease = await HeldLease.acquire({
        store,
        callId: 'c3',
        owner: 'a',
        ttlMs: 3000,
        clock,
        onLost: (w) => lost.push(w),
      });
      store.renew = () => Promise.reject(new Error('connection refused'));
      clock.advance(1000); // renewal 1 fails: the lease is still good until 3000
      await settle();
      clock.advance(1000); // renewal 2 fails: the next try would come after it ran out
      await settle();
      expect(lost).toEqual(['lease ran out: store unreachable']);
      expect(lease!.held).toBe(false);
    });
  });
});
