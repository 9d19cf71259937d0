import { describe, expect, it } from 'vitest';
import { callRecordSchema } from '../../src/core/call-record.js';
import type { MemoryRecordSink, ScriptedAsr, ToneTts } from '../../src/dialog/scripted.js';
import { SUPPORT_LINE, startCall } from './harness.js';

describe('runCall: a whole conversation over a MemoryLeg', () => {
  it('greets, answers an order-status question with the spoken order number, and ends resolved', async () => {
    const h = startCall({
      deps: {
        configFile: SUPPORT_LINE,
        asrScript: ["hi, where's my order", 'it is one two three double four', "no that's all thanks"],
      },
    });
    await h.untilListening();
    const tts = h.deps.tts as ToneTts;
    expect(tts.spoken.slice(0, 2)).toEqual([
      'This call may be recorded for quality and training purposes.',
      "Hello, you've reached Acme support. How can I help you today?",
    ]);
    await h.say();
    expect(tts.spoken.at(-1)).toBe("Sure, I can check that. What's your order number?");
    await h.say();
    expect(tts.spoken.at(-1)).toBe(
      'Thanks. Order 1 2 3 4 4 has shipped and should arrive within two working days. Anything else I can do?',
    );
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => h.leg.hungUpBy !== null);
    const record = await h.done;
    expect(h.leg.hungUpBy).toBe('bot');
    expect(tts.spoken.slice(-2)).toEqual(["You're welcome.", 'Thanks for calling. Goodbye!']);
    expect(() => callRecordSchema.parse(record)).not.toThrow();
    expect(record.outcome).toBe('resolved');
    // the record tells the call's story: what it was about and what was captured, not just the closing turn
    expect(record.intent).toBe('order_status');
    expect(record.intents.map((t) => t.intent)).toEqual(['order_status', 'order_status', 'goodbye']);
    expect(record.intents.every((t) => t.confidence > 0.45 && t.atMs > 0)).toBe(true);
    expect(record.slots).toEqual({ order_number: '12344' });
    expect(record.phone).toBe('+15550100');
    expect(record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).toEqual([
      "hi, where's my order",
      'it is one two three double four',
      "no that's all thanks",
    ]);
    expect(record.asrConfidence).toBeCloseTo(0.9);
    const sink = h.deps.records as MemoryRecordSink;
    expect(sink.of('end')).toHaveLength(1);
    expect(sink.of('escalation')).toHaveLength(0);
    // bot audio reached the caller at the leg's rate: the greeting alone is > 1 s at 8 kHz
    expect(h.leg.playedSamples).toBeGreaterThan(8000);
    expect((h.deps.asr as ScriptedAsr).remaining).toBe(0);
  });
});
