import { describe, expect, it } from 'vitest';
import { DialWait } from '../../src/telephony/dial-wait.js';
import { FakeClock } from '../helpers/fake-clock.js';

describe('DialWait: the one wait for a dialled leg (transfer and originate, every backend)', () => {
  it('the first report wins; later ones and the ring timer are ignored and nothing stays armed', async () => {
    const clock = new FakeClock();
    const wait = new DialWait({ clock });
    wait.ring(30_000, { outcome: 'no-answer', detail: 'timeout' });
    expect(clock.pending).toBe(1);
    wait.decide({ outcome: 'busy', detail: 'cause 17' });
    wait.decide({ outcome: 'answered' });
    clock.advance(60_000);
    await expect(wait.result).resolves.toEqual({ outcome: 'busy', detail: 'cause 17' });
    expect(clock.pending).toBe(0);
  });

  it('with no report, the ring timeout on the injected clock decides, not before', async () => {
    const clock = new FakeClock();
    const wait = new DialWait({ clock });
    wait.ring(25_000, { outcome: 'no-answer', detail: 'timeout' });
    clock.advance(24_999);
    expect(wait.decided).toBeNull();
    clock.advance(1);
    await expect(wait.result).resolves.toEqual({ outcome: 'no-answer', detail: 'timeout' });
  });

  it('an abort (already given or later) fails the dial and drops the listener and timer', async () => {
    const clock = new FakeClock();
    const early = new DialWait({ clock, signal: AbortSignal.abort() });
    await expect(early.result).resolves.toEqual({ outcome: 'failed', detail: 'aborted' });
    const abort = new AbortController();
    const late = new DialWait({ clock, signal: abort.signal });
    late.ring(10_000, { outcome: 'no-answer' });
    abort.abort();
    await expect(late.result).resolves.toEqual({ outcome: 'failed', detail: 'aborted' });
    expect(clock.pending).toBe(0);
  });
});
