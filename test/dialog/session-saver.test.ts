/**
 * SessionSaver: the call's one writer in the session store. A process that takes a call over claims it by
 * compare-and-set; a state change queued just before that claim (a caller who hung up while the store was asked) must
 * not make the process think another one took the call.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CallContext } from '../../src/dialog/call-context.js';
import { SessionSaver } from '../../src/dialog/session-saver.js';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import type { CallSession } from '../../src/session/store.js';
import type { CallLeg } from '../../src/telephony/port.js';

const leg = { id: 'call-1', backend: 'test', from: '+1555', to: '', direction: 'inbound' } as unknown as CallLeg;

/** call-1 as a process that died while serving it left it in the store */
function storedByDeadProcess(ctx: CallContext, backendData: Record<string, unknown>): CallSession {
  const now = new Date().toISOString();
  return {
    version: 1,
    callId: 'call-1',
    backend: 'test',
    state: 'listening',
    phone: '+1555',
    startedAt: now,
    backendData,
    dialog: { ...ctx.dialogSnapshot() },
    updatedAt: now,
    owner: 'dead-process',
  };
}

describe('SessionSaver', () => {
  it('a save queued before the claim whose write lands after it writes again: the call stays ours', async () => {
    const store = new MemorySessionStore();
    const ctx = new CallContext(leg, () => undefined);
    await store.put(storedByDeadProcess(ctx, {}));
    const stored = (await store.get('call-1'))!;
    // the first compare-and-set (the queued save's) is held until the claim has moved the revision
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const cas = store.compareAndSet.bind(store);
    store.compareAndSet = async (s: CallSession, rev: number) => {
      if (calls++ === 0) await held;
      return cas(s, rev);
    };
    let lost = 0;
    const saver = new SessionSaver(store, ctx, pino({ level: 'silent' }), { owner: 'me', onLost: () => lost++ });

    saver.save('ended');
    await new Promise((resolve) => setImmediate(resolve)); // the save has read the entry and sent its write
    expect(calls).toBe(1);
    expect(await saver.claim(stored, 'thinking')).toBe(true);
    release();
    await saver.finish();

    expect(lost).toBe(0);
    expect(saver.lost).toBe(false);
    expect(calls).toBe(3); // held write (refused: stale revision), claim, the write again
    expect(await store.get('call-1')).toBeUndefined(); // finished: removed, as the call's owner does
  });

  it("a leg's sessionData goes with every write, over what the previous owner stored (a claim, a release)", async () => {
    const store = new MemorySessionStore();
    const mine = { ...leg, sessionData: { instanceUrl: 'http://127.0.0.1:3002' } } as CallLeg;
    const ctx = new CallContext(mine, () => undefined);
    await store.put(storedByDeadProcess(ctx, { instanceUrl: 'http://127.0.0.1:3001', kept: 'x' }));
    const saver = new SessionSaver(store, ctx, pino({ level: 'silent' }), { owner: 'me', onLost: () => undefined });
    expect(await saver.claim((await store.get('call-1'))!, 'thinking')).toBe(true);
    expect(await store.get('call-1')).toMatchObject({
      owner: 'me',
      backendData: { instanceUrl: 'http://127.0.0.1:3002', kept: 'x' },
    });
    saver.save('listening');
    await saver.release('listening');
    expect(await store.get('call-1')).toMatchObject({
      owner: '',
      backendData: { instanceUrl: 'http://127.0.0.1:3002', kept: 'x' },
    });
  });
});
