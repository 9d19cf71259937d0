/**
 * A release step that failed is retried with backoff until it succeeds or the object is gone, but never over a
 * connection that can no longer carry it (a per-call websocket Asterisk closed for good).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AriError } from '../../src/telephony/asterisk/ari-client.js';
import { ReleaseRetrier } from '../../src/telephony/asterisk/release-retry.js';
import { FakeClock } from '../helpers/fake-clock.js';

const silent = pino({ level: 'silent' });

/** A step failing `failures` times (then answering 204), counting its attempts. */
function flakyStep(failures: number, err: () => Error = () => new Error('no answer')) {
  const step = { attempts: 0, run: () => Promise.resolve() };
  step.run = () => (++step.attempts <= failures ? Promise.reject(err()) : Promise.resolve());
  return step;
}

/** Let the step's promise and its handlers run after a timer fired. */
const settle = () => new Promise((r) => setImmediate(r));

describe('release retries', () => {
  it('a failed step is retried with backoff until it succeeds', async () => {
    const clock = new FakeClock();
    const retrier = new ReleaseRetrier(silent, { minMs: 100, maxMs: 400 }, clock);
    const step = flakyStep(2);
    retrier.retry('DELETE bridge b1', step.run);
    for (const ms of [100, 200, 400]) {
      expect(retrier.pending).toBe(1);
      clock.advance(ms);
      await settle();
    }
    expect(step.attempts).toBe(3);
    expect(retrier.pending).toBe(0);
  });

  it('a step whose object is gone (404) is not retried again', async () => {
    const clock = new FakeClock();
    const retrier = new ReleaseRetrier(silent, { minMs: 100, maxMs: 400 }, clock);
    const step = flakyStep(5, () => new AriError('DELETE', '/bridges/b1', 404, 'Bridge not found'));
    retrier.retry('DELETE bridge b1', step.run);
    clock.advance(100);
    await settle();
    expect([step.attempts, retrier.pending]).toEqual([1, 0]);
  });

  it('a step whose connection is closed is given up, before the first retry or between two', async () => {
    const clock = new FakeClock();
    const retrier = new ReleaseRetrier(silent, { minMs: 100, maxMs: 400 }, clock);
    let open = false;
    const never = flakyStep(Infinity);
    retrier.retry('DELETE bridge b1', never.run, () => open);
    expect([never.attempts, retrier.pending]).toEqual([0, 0]);

    open = true;
    retrier.retry('DELETE bridge b2', never.run, () => open);
    clock.advance(100);
    await settle();
    expect([never.attempts, retrier.pending]).toEqual([1, 1]);
    open = false; // Asterisk closed the call's socket: nothing sent over it can arrive any more
    clock.advance(200);
    await settle();
    expect([never.attempts, retrier.pending]).toEqual([2, 0]);
    clock.advance(10_000);
    await settle();
    expect(never.attempts).toBe(2);
  });
});
