import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { EnergyVadFactory, MemoryRecordSink } from '../../src/dialog/scripted.js';
import type { MemoryLeg } from '../../src/dialog/testing/memory-leg.js';
import type { Party, TransferResult } from '../../src/telephony/port.js';
import { waitFor } from '../helpers/wait.js';
import { startCall } from './harness.js';

const dialog = { routing: { default: 'agent', targets: { agent: { kind: 'sip', address: 'sip:agent@pbx' } } } };

/** One person talks after the hand-off: a tone, then enough silence to end the turn, frame by frame. */
async function speak(leg: MemoryLeg, party: Party, ms = 500): Promise<void> {
  const n = leg.inputSampleRate / 50;
  for (let t = 0; t < ms + 600; t += 20) {
    const frame = new Int16Array(n);
    if (t < ms) for (let i = 0; i < n; i++) frame[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
    leg.feedParty(party, frame);
    await yieldToLoop();
  }
}

function escalate(agentStaysSilent: boolean, transfer: TransferResult, signal?: AbortSignal) {
  return startCall({
    deps: {
      config: { dialog, telephony: { agentStaysSilent } },
      asrScript: ['can I talk to a real person', 'my invoice is wrong', 'let me check that'],
    },
    leg: { transferOutcomes: [transfer] },
    ...(signal ? { signal } : {}),
  });
}

describe('after the hand-off (telephony.agentStaysSilent)', () => {
  it('off (default): no listen is asked for, the record closes at the answer', async () => {
    const h = escalate(false, { outcome: 'answered' });
    await h.untilListening();
    await h.say();
    const record = await h.done;
    expect(h.leg.transfers[0]!.listen).toBeUndefined();
    expect(h.leg.hungUpBy).toBeNull(); // the person has the caller; the bot neither hangs up nor waits
    expect((h.deps.records as MemoryRecordSink).of('end')).toEqual([record]);
  });

  it('on: the caller and the agent go into the transcript apart; the end record waits for the hangup', async () => {
    const h = escalate(true, { outcome: 'answered', listening: true });
    await h.untilListening();
    await h.say();
    await waitFor(() => h.state() === 'ended', 5000, 'the hand-off');
    expect(h.leg.transfers[0]!.listen).toBe(true);
    await speak(h.leg, 'caller');
    await speak(h.leg, 'agent');
    const lines = () => h.events('transcript').filter((e) => !e.partial && e.entry.speaker !== 'bot');
    await waitFor(() => lines().length === 3, 5000, 'both lines after the hand-off');
    const records = h.deps.records as MemoryRecordSink;
    expect(records.of('end')).toEqual([]);
    // the bot says nothing after the hand-off, whatever the parties say
    const sent = h.leg.sent.length;
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(h.leg.sent.length).toBe(sent);
    expect(records.of('end')).toEqual([record]);
    expect(record.outcome).toBe('escalated');
    expect(record.transcript.filter((e) => e.speaker !== 'bot').map((e) => [e.speaker, e.text])).toEqual([
      ['caller', 'can I talk to a real person'],
      ['caller', 'my invoice is wrong'],
      ['agent', 'let me check that'],
    ]);
    // both parties' VAD sessions and every listener are released
    expect((h.deps.vad as EnergyVadFactory).open).toBe(0);
    expect(h.leg.listenerCounts()).toEqual({ audio: 0, played: 0, dtmf: 0, hangup: 0, detach: 0, 'party-audio': 0 });
  });

  it('on, but the backend could not stay on the line: the call ends for the bot at the answer, as before', async () => {
    const h = escalate(true, { outcome: 'answered' });
    await h.untilListening();
    await h.say();
    const record = await h.done;
    expect(record.transcript.some((e) => e.text === 'my invoice is wrong')).toBe(false);
    expect(h.leg.hungUpBy).toBeNull();
  });

  it('on, and the bot shuts down while it listens: the leg lets go of the bot side and the record is written', async () => {
    const shutdown = new AbortController();
    const h = escalate(true, { outcome: 'answered', listening: true }, shutdown.signal);
    await h.untilListening();
    await h.say();
    await waitFor(() => h.state() === 'ended', 5000, 'the hand-off');
    shutdown.abort();
    const record = await h.done;
    expect(h.leg.hungUpBy).toBe('bot');
    expect((h.deps.records as MemoryRecordSink).of('end')).toEqual([record]);
    expect((h.deps.vad as EnergyVadFactory).open).toBe(0);
  });
});
