import { EventEmitter, getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { nextEvent, Waiters } from '../../src/core/waiters.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Settles `p` into a tag so a test can see whether it has settled yet, without waiting on time. */
function track(p: Promise<void>): { state: () => string; settled: Promise<unknown> } {
  let state = 'pending';
  const settled = p.then(
    () => (state = 'resolved'),
    (err: unknown) => (state = `rejected: ${(err as Error).message}`),
  );
  return { state: () => state, settled };
}

describe('Waiters', () => {
  it('holds every wait until resolveAll, then wakes them all and empties', async () => {
    const waiters = new Waiters('waitForPlayout aborted');
    const a = track(waiters.wait());
    const b = track(waiters.wait(new AbortController().signal));
    expect(waiters.size).toBe(2);
    await Promise.resolve();
    expect([a.state(), b.state()]).toEqual(['pending', 'pending']);
    waiters.resolveAll();
    expect(waiters.size).toBe(0);
    await Promise.all([a.settled, b.settled]);
    expect([a.state(), b.state()]).toEqual(['resolved', 'resolved']);
  });

  it('a wait that starts after resolveAll waits for the next one', async () => {
    const waiters = new Waiters('waitForPlayout aborted');
    waiters.resolveAll();
    const late = track(waiters.wait());
    await Promise.resolve();
    expect(late.state()).toBe('pending');
    waiters.resolveAll();
    await late.settled;
    expect(late.state()).toBe('resolved');
  });

  it('an abort rejects with the signal reason, leaves the set, and does not disturb the other waits', async () => {
    const waiters = new Waiters('waitForPlayout aborted');
    const controller = new AbortController();
    const aborted = waiters.wait(controller.signal);
    const other = track(waiters.wait());
    controller.abort(new Error('barge-in'));
    await expect(aborted).rejects.toThrow('barge-in');
    expect(waiters.size).toBe(1);
    expect(other.state()).toBe('pending');
    waiters.resolveAll();
    await other.settled;
    expect(other.state()).toBe('resolved');
  });

  it('an already-aborted signal rejects at once without registering', async () => {
    const waiters = new Waiters('waitForPlayout aborted');
    const reason = new Error('too late');
    await expect(waiters.wait(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(waiters.size).toBe(0);
  });

  it('a reason that is not an Error becomes a clear Error', async () => {
    const waiters = new Waiters('waitForPlayout aborted');
    const controller = new AbortController();
    const wait = waiters.wait(controller.signal);
    controller.abort('not an error');
    await expect(wait).rejects.toThrow('waitForPlayout aborted');
    await expect(waiters.wait(AbortSignal.abort(42))).rejects.toThrow('waitForPlayout aborted');
  });

  it('removes its abort listener once settled (nothing left on a long-lived signal)', async () => {
    const waiters = new Waiters('waitForPlayout aborted');
    const controller = new AbortController();
    const wait = waiters.wait(controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    waiters.resolveAll();
    await wait;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(new Error('after the fact')); // nothing is listening: no stray rejection
    expect(waiters.size).toBe(0);
  });

  it('a bounded wait rejects with its timeout error when the clock passes the bound, and leaves the set', async () => {
    const clock = new FakeClock();
    const waiters = new Waiters();
    const wait = track(waiters.wait({ timeoutMs: 500, clock, timeoutError: () => new Error('no Stasis in 500 ms') }));
    clock.advance(499);
    await Promise.resolve();
    expect(wait.state()).toBe('pending');
    clock.advance(1);
    await wait.settled;
    expect(wait.state()).toBe('rejected: no Stasis in 500 ms');
    expect(waiters.size).toBe(0);
  });

  it('a wait that is woken in time clears its timer', async () => {
    const clock = new FakeClock();
    const waiters = new Waiters();
    const wait = waiters.wait({ timeoutMs: 500, clock });
    expect(clock.pending).toBe(1);
    waiters.resolveAll();
    await wait;
    expect(clock.pending).toBe(0);
  });

  it('rejectAll fails every pending wait with one error', async () => {
    const waiters = new Waiters();
    const a = track(waiters.wait());
    const b = track(waiters.wait());
    waiters.rejectAll(new Error('pacer stopped'));
    await Promise.all([a.settled, b.settled]);
    expect([a.state(), b.state()]).toEqual(['rejected: pacer stopped', 'rejected: pacer stopped']);
    expect(waiters.size).toBe(0);
  });
});

describe('nextEvent', () => {
  it('resolves with the next emission and removes its listener; a timeout on the fake clock rejects', async () => {
    const emitter = new EventEmitter();
    const next = nextEvent<[{ reconnect: boolean }]>(emitter, 'connected');
    emitter.emit('connected', { reconnect: true });
    expect(await next).toEqual([{ reconnect: true }]);
    expect(emitter.listenerCount('connected')).toBe(0);

    const clock = new FakeClock();
    const late = nextEvent(emitter, 'connected', { timeoutMs: 100, clock });
    clock.advance(100);
    await expect(late).rejects.toThrow('timed out after 100 ms');
    expect(emitter.listenerCount('connected')).toBe(0);
  });
});
