import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { deadline } from '../../src/core/deadline.js';

describe('deadline', () => {
  it('aborts with a TimeoutError after the time, and says it timed out', async () => {
    const d = deadline(20);
    await once(d.signal, 'abort');
    expect(d.timedOut).toBe(true);
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('fires even when nothing else references its timer and the heap is collected', async () => {
    // the AbortSignal.any([AbortSignal.timeout()]) pattern can lose its timer to GC on Node 20
    const signals = Array.from({ length: 50 }, () => deadline(30).signal);
    (globalThis as { gc?: () => void }).gc?.();
    await Promise.all(signals.map((s) => once(s, 'abort')));
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('follows the parent with its reason, and is not a timeout then', () => {
    const parent = new AbortController();
    const d = deadline(10_000, parent.signal);
    parent.abort(new Error('hung up'));
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('hung up');
    expect(d.timedOut).toBe(false);
    d.dispose();
  });

  it('starts aborted under an aborted parent', () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    expect(deadline(1000, parent.signal).signal.aborted).toBe(true);
  });

  it('stopTimer keeps following the parent but never times out', async () => {
    const parent = new AbortController();
    const d = deadline(20, parent.signal);
    d.stopTimer();
    await once(deadline(60).signal, 'abort');
    expect(d.signal.aborted).toBe(false);
    parent.abort(new Error('caller gone'));
    expect((d.signal.reason as Error).message).toBe('caller gone');
  });

  it('dispose stops the timer and detaches from the parent', async () => {
    const parent = new AbortController();
    const d = deadline(20, parent.signal);
    d.dispose();
    const later = deadline(60);
    await once(later.signal, 'abort');
    expect(d.signal.aborted).toBe(false);
    parent.abort();
    expect(d.signal.aborted).toBe(false);
  });
});
