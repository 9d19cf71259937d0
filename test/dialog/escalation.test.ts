import { describe, expect, it } from 'vitest';
import type { MemoryRecordSink, ToneTts } from '../../src/dialog/scripted.js';
import type { TransferResult } from '../../src/telephony/port.js';
import { startCall } from './harness.js';

const dialog = {
  intents: [
    { name: 'billing', keywords: ['bill', 'invoice'], responses: ['Billing answer.'], route: 'billing' },
    { name: 'order_status', keywords: ['order'], responses: ['Order answer.'] },
    { name: 'legal_complaint', keywords: ['lawyer'], escalate: true, route: 'legal' },
  ],
  routing: {
    default: 'agent',
    targets: {
      agent: { kind: 'endpoint', address: 'PJSIP/agent' },
      billing: { kind: 'sip', address: 'sip:billing@pbx.example', timeoutSec: 20 },
      legal: { kind: 'phone', address: '+15557770000' },
    },
  },
  maxLowConfidenceTurns: 2,
};

async function escalateWith(script: string[], opts: { dtmf?: boolean; transfer?: TransferResult[] } = {}) {
  const h = startCall({
    deps: { config: { dialog }, asrScript: script },
    leg: { transferOutcomes: opts.transfer ?? [{ outcome: 'answered' }] },
  });
  await h.untilListening();
  for (let i = 0; i < script.length; i++) {
    await h.leg.feedTone(400);
    await h.leg.pumpUntil(() => h.state() === 'ended' || h.states().filter((s) => s.to === 'thinking').length > i);
    if (h.state() !== 'ended') await h.untilListening();
  }
  if (opts.dtmf) {
    h.leg.pressDigit('0');
    await h.leg.pumpUntil(() => h.state() === 'ended' || h.events('escalation-outcome').length > 0);
  }
  return h;
}

describe('escalation triggers', () => {
  it.each([
    { name: 'asking for a person', script: ['can I talk to a real person'], reason: 'caller-request', target: 'agent' },
    { name: 'an intent marked escalate', script: ['I will call my lawyer'], reason: 'intent', target: 'legal' },
    {
      name: 'low confidence twice in a row',
      script: ['blorp', 'zzz quux'],
      reason: 'low-confidence',
      target: 'agent',
    },
    {
      name: 'angry wording (routed by intent)',
      script: ['this bill is ridiculous'],
      reason: 'angry',
      target: 'billing',
    },
  ])('$name → reason $reason, target $target', async ({ script, reason, target }) => {
    const h = await escalateWith(script);
    const record = await h.done;
    const esc = h.events('escalation');
    expect(esc).toHaveLength(1);
    expect(esc[0]).toMatchObject({ reason, target });
    expect(h.leg.transfers).toHaveLength(1);
    const targetCfg = dialog.routing.targets[target as keyof typeof dialog.routing.targets];
    expect(h.leg.transfers[0]!.target).toMatchObject({ kind: targetCfg.kind, address: targetCfg.address });
    expect(record.outcome).toBe('escalated');
    expect(record.escalation).toMatchObject({ reason, target, outcome: 'answered' });
    expect(h.leg.hungUpBy).toBeNull(); // the person has the caller now; the bot does not hang up
    const m = await h.deps.metrics.getSingleMetric('voicebot_dialog_escalations_total')!.get();
    expect(m.values).toEqual([{ labels: { reason }, value: 1 }]);
  });

  it('DTMF 0 escalates at once, even mid-prompt', async () => {
    const h = startCall({ deps: { config: { dialog } } });
    await h.leg.pumpUntil(() => h.leg.playedSamples > 2000); // greeting is playing
    h.leg.pressDigit('0');
    expect(h.leg.clears).toHaveLength(1); // barge-in on the spot
    await h.leg.pumpUntil(() => h.state() === 'ended');
    const record = await h.done;
    expect(record.escalation).toMatchObject({ reason: 'dtmf', target: 'agent', outcome: 'answered' });
    expect(record.transcript.some((e) => e.speaker === 'caller' && e.text === '[DTMF 0]')).toBe(true);
  });

  it('DTMF 0 during the legal notice waits for the notice, then escalates without the greeting', async () => {
    const notice = 'This call is recorded for training purposes.';
    const h = startCall({ deps: { config: { dialog: { ...dialog, notice } } } });
    await h.leg.pumpUntil(() => h.leg.playedSamples > 2000);
    h.leg.pressDigit('0');
    expect(h.leg.clears).toHaveLength(0);
    await h.leg.pumpUntil(() => h.state() === 'ended');
    const record = await h.done;
    expect(record.transcript.filter((e) => e.speaker === 'bot').map((e) => e.text)).toEqual([
      notice,
      'Let me put you through to a colleague. One moment please.',
    ]);
    expect(record.escalation?.reason).toBe('dtmf');
  });

  it('other DTMF digits are noted in the transcript and change nothing', async () => {
    const h = startCall({ deps: { config: { dialog } } });
    await h.untilListening();
    h.leg.pressDigit('5');
    await h.leg.pumpUntil(() => h.states().length === 4);
    expect(h.states().slice(2)).toEqual([
      { from: 'listening', to: 'thinking', cause: 'DTMF 5' },
      { from: 'thinking', to: 'listening', cause: 'nothingToSay' },
    ]);
    expect(h.leg.clears).toHaveLength(0);
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.at(-1)).toMatchObject({ speaker: 'caller', text: '[DTMF 5]' });
    expect(h.leg.transfers).toHaveLength(0);
  });

  it('one clear turn resets the low-confidence count', async () => {
    const h = await escalateWith(['blorp', 'my invoice', 'zzz quux']);
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(h.events('escalation')).toHaveLength(0);
    expect((h.deps.tts as ToneTts).spoken.filter((t) => t.startsWith("Sorry, I didn't"))).toHaveLength(2);
    expect(record.outcome).toBe('resolved');
  });
});

describe('handover', () => {
  it('submits the escalation record before transferring, with X-Voicebot headers', async () => {
    const h = await escalateWith(['where is my order 55521', 'get me a human please']);
    const record = await h.done;
    const sink = h.deps.records as MemoryRecordSink;
    expect(sink.submitted.map((s) => s.event)).toEqual(['escalation', 'end']);
    const atEscalation = sink.of('escalation')[0]!;
    expect(atEscalation.outcome).toBe('in-progress');
    expect(atEscalation.escalation?.outcome).toBe('pending');
    expect(atEscalation.intent).toBe('order_status');
    expect(atEscalation.summary).toContain('order status');
    const headers = h.leg.transfers[0]!.headers;
    expect(headers['X-Voicebot-Call-Id']).toBe(h.leg.id);
    expect(headers['X-Voicebot-Intent']).toBe('order_status');
    expect(headers['X-Voicebot-Phone']).toBe('+15550100');
    expect(headers['X-Voicebot-Summary']).toBe(atEscalation.summary.slice(0, 200).replace(/…$/, ''));
    expect((h.deps.tts as ToneTts).spoken).toContain('Let me put you through to a colleague. One moment please.');
    expect(
      h
        .states()
        .slice(-2)
        .map((s) => s.to),
    ).toEqual(['transferring', 'ended']);
    expect(record.outcome).toBe('escalated');
  });

  it.each(['busy', 'no-answer', 'failed'] as const)(
    'transfer %s: tells the caller, keeps listening, outcome transfer-failed',
    async (outcome) => {
      const h = await escalateWith(['talk to someone'], { transfer: [{ outcome }] });
      await h.untilListening();
      expect(h.state()).toBe('listening');
      expect((h.deps.tts as ToneTts).spoken.at(-1)).toContain('a colleague will call you back');
      expect(h.events('escalation-outcome')).toEqual([{ type: 'escalation-outcome', callId: h.leg.id, outcome }]);
      expect(
        h
          .states()
          .map((s) => s.to)
          .slice(-3),
      ).toEqual(['transferring', 'speaking', 'listening']);
      h.leg.hangupByCaller();
      const record = await h.done;
      expect(record.outcome).toBe('transfer-failed');
      expect(record.escalation?.outcome).toBe(outcome);
    },
  );

  it('puts the CRM ticket id and the recording into the handover', async () => {
    const h = startCall({ deps: { config: { dialog }, asrScript: ['talk to someone'] } });
    const sink = h.deps.records as MemoryRecordSink;
    const submit = sink.submit.bind(sink);
    // the CRM announces the ticket when it gets the escalation record
    sink.submit = async (event, record) => {
      await submit(event, record);
      if (event === 'escalation')
        h.deps.events.publish({ type: 'ticket', callId: record.callId, ticketId: 'T-42', sink: 'test' });
    };
    h.deps.events.publish({ type: 'recording', callId: h.leg.id, path: '/var/rec/call-1.wav' });
    h.deps.events.publish({ type: 'ticket', callId: 'another-call', ticketId: 'WRONG', sink: 'test' });
    await h.untilListening();
    await h.leg.feedTone(400);
    await h.leg.pumpUntil(() => h.state() === 'ended');
    const record = await h.done;
    expect(h.leg.transfers[0]!.headers['X-Voicebot-Ticket-Id']).toBe('T-42');
    expect(record.recording).toEqual({ path: '/var/rec/call-1.wav', format: 'wav' });
  });

  it('a failing record sink is logged, never fatal', async () => {
    const h = startCall({ deps: { config: { dialog }, asrScript: ['talk to someone'] } });
    (h.deps.records as MemoryRecordSink).failWith = new Error('CRM down');
    await h.untilListening();
    await h.leg.feedTone(400);
    await h.leg.pumpUntil(() => h.state() === 'ended');
    const record = await h.done;
    expect(record.outcome).toBe('escalated');
  });
});
