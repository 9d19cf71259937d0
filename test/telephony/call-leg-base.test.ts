import { describe, expect, it } from 'vitest';
import { CallLegBase } from '../../src/telephony/call-leg-base.js';
import type { TransferRequest, TransferResult } from '../../src/telephony/port.js';

const request: TransferRequest = {
  target: { kind: 'sip', address: 'sip:agent@127.0.0.1', timeoutSec: 5 },
  headers: {},
};

/** The smallest leg: the base's bookkeeping with a transfer the test settles by hand. */
class TestLeg extends CallLegBase {
  releases = 0;
  dialled = 0;
  settle: ((r: TransferResult) => void) | null = null;
  protected placeTransfer(): Promise<TransferResult> {
    this.dialled++;
    return new Promise((resolve) => (this.settle = resolve));
  }
  end(reason: string, emit: boolean): Promise<void> {
    return this.endOnce(reason, () => {
      this.releases++;
      if (emit) this.emitHangup(reason);
    });
  }
  queue(samples: number, signal?: AbortSignal): Promise<void> {
    return this.waitUntilDrained(samples, signal);
  }
  playedAll(): void {
    this.drained();
  }
}

describe('CallLegBase', () => {
  it('ends once whoever ends it: one release, one hangup event, the first reason, signal aborted', async () => {
    const leg = new TestLeg();
    const heard: string[] = [];
    leg.on('hangup', (reason) => heard.push(reason));
    expect(leg.ended).toBe(false);
    const first = leg.end('caller hung up', true);
    const second = leg.end('bot hangup', true);
    await Promise.all([first, second]);
    expect(leg.releases).toBe(1);
    expect(heard).toEqual(['caller hung up']);
    expect(leg.endReason).toBe('caller hung up');
    expect(leg.signal.aborted).toBe(true);
    expect((leg.signal.reason as Error).message).toBe('call ended: caller hung up');
  });

  it('refuses a second transfer while one dials, and any transfer after the end, without dialling', async () => {
    const leg = new TestLeg();
    const first = leg.transfer(request);
    expect(leg.transferring).toBe(true);
    await expect(leg.transfer(request)).resolves.toEqual({ outcome: 'failed', detail: 'transfer already in progress' });
    leg.settle!({ outcome: 'busy' });
    await expect(first).resolves.toEqual({ outcome: 'busy' });
    expect(leg.transferring).toBe(false);
    await leg.end('done', false);
    await expect(leg.transfer(request)).resolves.toEqual({ outcome: 'failed', detail: 'call already ended' });
    expect(leg.dialled).toBe(1);
  });

  it('playout waiters: none when idle, woken by drained(), removed on abort', async () => {
    const leg = new TestLeg();
    await leg.queue(0);
    const waiting = leg.queue(160);
    expect(leg.playoutWaiters).toBe(1);
    leg.playedAll();
    await waiting;
    const abort = new AbortController();
    const abandoned = leg.queue(160, abort.signal);
    abort.abort(new Error('barge-in'));
    await expect(abandoned).rejects.toThrow('barge-in');
    expect(leg.playoutWaiters).toBe(0);
  });
});
