import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/core/admission.js';
import { drainCalls } from '../../src/core/drain.js';
import { createMetrics } from '../../src/core/metrics.js';
import { Readiness } from '../../src/core/readiness.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Let the drain's pending promise callbacks run (it awaits timers on the fake clock). */
const settle = () => new Promise((r) => setImmediate(r));

function rig(timeoutMs = 30_000) {
  const clock = new FakeClock();
  const readiness = new Readiness();
  const metrics = createMetrics(false);
  const admission = new Admission(10, metrics);
  let detached = 0;
  const running = [admission.tryAcquire('asterisk')!, admission.tryAcquire('asterisk')!];
  const done = drainCalls({
    readiness,
    admission,
    timeoutMs,
    clock,
    detachRemaining: () => {
      detached++;
      return Promise.resolve();
    },
  });
  return { clock, readiness, admission, running, done, metrics, detached: () => detached };
}

describe('graceful drain (SIGTERM)', () => {
  it('is not ready at once and refuses new calls (counted), while running calls go on', async () => {
    const r = rig();
    expect(r.readiness.ready).toBe(false);
    expect(r.readiness.snapshot().components.drain?.reason).toMatch(/draining/);
    expect(r.admission.tryAcquire('jambonz')).toBeNull();
    const refused = (await r.metrics.getMetricsAsJSON()).find((m) => m.name === 'voicebot_calls_refused_total');
    expect(refused?.values).toEqual([expect.objectContaining({ labels: { backend: 'jambonz' }, value: 1 })]);
    expect(r.admission.active).toBe(2);
    for (const p of r.running) p.release();
    r.clock.advance(100);
    await settle();
    await expect(r.done).resolves.toEqual({ finished: true, detached: 0 });
    expect(r.detached()).toBe(0);
  });

  it('running calls that outlast session.drainTimeoutSec are detached for takeover, not cut off', async () => {
    const r = rig(5000);
    r.running[0]!.release(); // one call ends on its own
    for (let t = 0; t < 4900; t += 100) {
      r.clock.advance(100);
      await settle();
    }
    expect(r.detached()).toBe(0);
    for (let t = 0; t < 200; t += 100) {
      r.clock.advance(100);
      await settle();
    }
    await expect(r.done).resolves.toEqual({ finished: false, detached: 1 });
    expect(r.detached()).toBe(1);
  });
});
