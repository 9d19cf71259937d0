import { describe, expect, it } from 'vitest';
import { detachReason } from '../../src/dialog/call-core.js';
import { MemoryRecordSink, type ToneTts } from '../../src/dialog/scripted.js';
import { MemoryLeaseStore } from '../../src/session/lease.js';
import { MemorySessionStore } from '../../src/session/memory-store.js';
import { startCall, type CallHarness } from './harness.js';

const intents = [
  { name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Order cancelled.'] },
];
const GREETING = 'Hi, how can I help?';
const config = (dialog: Record<string, unknown> = {}) => ({
  dialog: { greeting: GREETING, intents, noInput: { timeoutSec: 0 }, ...dialog },
});
const spoken = (h: CallHarness) => (h.deps.tts as ToneTts).spoken;

/** Process A serves the call for one turn and detaches; returns what process B needs to pick it up. */
async function firstProcess(sessions: MemorySessionStore, records: MemoryRecordSink) {
  const stop = new AbortController();
  const a = startCall({
    leg: { id: 'call-1' },
    signal: stop.signal,
    deps: { config: config(), sessions, records, asrScript: ['question about my bill'] },
    prepare: (d) => (d.instanceId = 'bot-a'),
  });
  await a.untilListening();
  await a.say(600);
  expect(spoken(a)).toEqual([GREETING, 'Billing answer.']);
  stop.abort(detachReason());
  const partial = await a.done;
  return { a, partial };
}

describe('detach and resume: the session store is the call state', () => {
  it('detach leaves the leg up, submits no end record, and stores the whole call state with no owner', async () => {
    const sessions = new MemorySessionStore();
    const records = new MemoryRecordSink();
    const { a, partial } = await firstProcess(sessions, records);
    expect(partial.outcome).toBe('in-progress');
    expect(a.leg.hungUpBy).toBeNull();
    expect(records.submitted).toEqual([]);
    expect(a.events('call-ended')).toEqual([]);
    expect(await a.deps.metrics.getSingleMetricAsString('voicebot_dialog_calls_detached_total')).toMatch(/ 1$/m);
    expect(a.leg.listenerCounts()).toEqual({ audio: 0, played: 0, dtmf: 0, hangup: 0, detach: 0, 'party-audio': 0 });
    const stored = await sessions.get('call-1');
    expect(stored).toMatchObject({ callId: 'call-1', state: 'listening', owner: '' });
    expect(stored!.rev).toBeGreaterThan(2);
    expect(stored!.dialog).toMatchObject({
      greeted: true,
      intent: 'billing',
      answeredTurns: 1,
      intentTurns: [expect.objectContaining({ intent: 'billing' })],
      submitted: [],
      transcript: [
        expect.objectContaining({ speaker: 'bot', text: GREETING }),
        expect.objectContaining({ speaker: 'caller', text: 'question about my bill' }),
        expect.objectContaining({ speaker: 'bot', text: 'Billing answer.' }),
      ],
    });
  });

  it('another process resumes: no second greeting, the resume prompt, the transcript goes on, one end record', async () => {
    const sessions = new MemorySessionStore();
    const records = new MemoryRecordSink();
    await firstProcess(sessions, records);
    const b = startCall({
      leg: { id: 'call-1' },
      deps: {
        config: config({ resumePrompt: 'Sorry, where were we?' }),
        sessions,
        records,
        asrScript: ['please cancel it'],
      },
      prepare: (d) => (d.instanceId = 'bot-b'),
    });
    await b.untilListening();
    expect(spoken(b)).toEqual(['Sorry, where were we?']);
    expect((await sessions.get('call-1'))!.owner).toBe('bot-b');
    expect(b.states()[0]).toEqual({ from: null, to: 'thinking', cause: 'resumed (was listening)' });
    expect(await b.deps.metrics.getSingleMetricAsString('voicebot_dialog_calls_resumed_total')).toMatch(/ 1$/m);
    await b.say(600);
    b.leg.hangupByCaller();
    const record = await b.done;
    expect(records.of('end')).toHaveLength(1);
    expect(records.submitted).toHaveLength(1);
    expect(record.transcript.map((e) => `${e.speaker}: ${e.text}`)).toEqual([
      `bot: ${GREETING}`,
      'caller: question about my bill',
      'bot: Billing answer.',
      'bot: Sorry, where were we?',
      'caller: please cancel it',
      'bot: Order cancelled.',
    ]);
    // the call's clock went on: the second process's lines come after the first's
    const at = record.transcript.map((e) => e.atMs);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
    expect(record.intents.map((t) => t.intent)).toEqual(['billing', 'cancel']);
    expect(record.outcome).toBe('resolved');
    expect(await sessions.get('call-1')).toBeUndefined();
  });

  it('an empty resumePrompt resumes silently, listening at once', async () => {
    const sessions = new MemorySessionStore();
    await firstProcess(sessions, new MemoryRecordSink());
    const b = startCall({ leg: { id: 'call-1' }, deps: { config: config({ resumePrompt: '' }), sessions } });
    await b.untilListening();
    expect(spoken(b)).toEqual([]);
    expect(b.states().map((s) => s.cause)).toEqual(['resumed (was listening)', 'resumed without a prompt']);
    b.leg.hangupByCaller();
    await b.done;
  });

  it('the process that loses the call to a newer owner lets go at its next write: no end record, leg left up', async () => {
    const sessions = new MemorySessionStore();
    const records = new MemoryRecordSink();
    const a = startCall({
      leg: { id: 'call-2' },
      deps: { config: config(), sessions, records, asrScript: ['my bill'] },
      prepare: (d) => (d.instanceId = 'bot-a'),
    });
    await a.untilListening();
    // another instance claims the call (as a takeover would) with the revision it read
    const seen = (await sessions.get('call-2'))!;
    expect(await sessions.compareAndSet({ ...seen, owner: 'bot-b' }, seen.rev!)).toBe(seen.rev! + 1);
    await a.leg.feedTone(600);
    await a.leg.feedSilence(1000); // the caller's turn ends: the state change is written, and refused
    const partial = await a.done;
    expect(partial.outcome).toBe('in-progress');
    expect(a.leg.hungUpBy).toBeNull();
    expect(records.submitted).toEqual([]);
    expect((await sessions.get('call-2'))!.owner).toBe('bot-b');
  });

  it('a stored state that does not parse is not half-used: the call starts afresh with the greeting', async () => {
    const sessions = new MemorySessionStore();
    await sessions.put({
      version: 1,
      callId: 'call-3',
      backend: 'memory',
      state: 'listening',
      phone: '+15550100',
      startedAt: new Date().toISOString(),
      backendData: {},
      dialog: { transcript: 'not a list' },
      updatedAt: new Date().toISOString(),
    });
    const h = startCall({ leg: { id: 'call-3' }, deps: { config: config(), sessions } });
    await h.untilListening();
    expect(spoken(h)).toEqual([GREETING]);
    h.leg.hangupByCaller();
    await h.done;
  });
});

describe('per-call ownership lease', () => {
  const leased = (
    callId: string,
    sessions: MemorySessionStore,
    leases: MemoryLeaseStore,
    id: string,
    asr: string[] = [],
  ) =>
    startCall({
      leg: { id: callId },
      deps: { config: config({ resumePrompt: 'Sorry, where were we?' }), sessions, asrScript: asr },
      prepare: (d) => {
        d.instanceId = id;
        d.leases = leases;
      },
    });

  it('is held and renewed on the call clock while the call runs, and given up at its end', async () => {
    const sessions = new MemorySessionStore();
    const holder: { h?: CallHarness } = {};
    const leases = new MemoryLeaseStore({ now: () => holder.h!.clock.now() });
    const h = (holder.h = leased('call-l1', sessions, leases, 'bot-a'));
    await h.untilListening();
    expect(await leases.holder('call-l1')).toBe('bot-a');
    for (let i = 0; i < 10; i++) {
      h.clock.advance(1000); // 10 s on a 3 s lease: only renewals keep it
      await new Promise((r) => setImmediate(r));
    }
    expect(await leases.holder('call-l1')).toBe('bot-a');
    h.leg.hangupByCaller();
    await h.done;
    expect(await leases.holder('call-l1')).toBeNull();
  });

  it('a lease lost to another instance detaches the call: no end record, leg left up', async () => {
    const sessions = new MemorySessionStore();
    const holder: { h?: CallHarness } = {};
    const leases = new MemoryLeaseStore({ now: () => holder.h!.clock.now() });
    const h = (holder.h = leased('call-l2', sessions, leases, 'bot-a'));
    await h.untilListening();
    h.clock.stall(3500); // the process stalls past its lease …
    expect(await leases.acquire('call-l2', 'bot-b', 3000)).toBe(true); // … and another instance claims the call
    h.clock.advance(1000);
    const partial = await h.done;
    expect(partial.outcome).toBe('in-progress');
    expect(h.leg.hungUpBy).toBeNull();
    expect((h.deps.records as MemoryRecordSink).submitted).toEqual([]);
    expect(await leases.holder('call-l2')).toBe('bot-b');
  });

  it('a stored call whose lease a live process holds is not resumed by another', async () => {
    const sessions = new MemorySessionStore();
    await firstProcess(sessions, new MemoryRecordSink());
    const leases = new MemoryLeaseStore();
    expect(await leases.acquire('call-1', 'bot-a', 60_000)).toBe(true); // bot-a is alive and serving it
    const b = leased('call-1', sessions, leases, 'bot-b');
    const record = await b.done;
    expect(record.outcome).toBe('in-progress');
    expect((b.deps.tts as ToneTts).spoken).toEqual([]);
    expect((await sessions.get('call-1'))!.owner).toBe('');
    expect(await leases.holder('call-1')).toBe('bot-a');
  });
});
