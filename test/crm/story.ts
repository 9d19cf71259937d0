import type { CallRecord } from '../../src/core/call-record.js';
import { makeRecord } from './helpers.js';

/**
 * A call with a story: an order question, the order number in turn 2, a turn the recogniser was unsure of, a
 * barge-in, the escalation key, and an agent leg nobody answered. Used by the ticket tests and the screenshots.
 */
export function storyRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  return makeRecord({
    callId: 'call-7',
    durationMs: 42_000,
    outcome: 'transfer-failed',
    intent: 'order_status',
    intents: [
      { atMs: 3000, intent: 'order_status', confidence: 0.88 },
      { atMs: 9000, intent: 'order_status', confidence: 0.91 },
      { atMs: 20_000, intent: null, confidence: 0.21 },
    ],
    slots: { order_number: '12344', reason: 'damaged' },
    asrConfidence: 0.74,
    nluConfidence: 0.88,
    summary: 'Order 12344 arrived damaged; caller wants a replacement.',
    transcript: [
      { speaker: 'bot', text: "Hello, you've reached Acme support. How can I help you today?", atMs: 0 },
      { speaker: 'caller', text: 'My order 1 2 3 4 4 <b>arrived</b> broken', atMs: 3000, confidence: 0.93 },
      { speaker: 'bot', text: 'Sorry to hear … [interrupted]', atMs: 6000, interrupted: true },
      { speaker: 'caller', text: 'I want a replacement, it is damaged', atMs: 9000, confidence: 0.87 },
      { speaker: 'bot', text: 'I can arrange a replacement. Anything else?', atMs: 12_000 },
      { speaker: 'caller', text: 'uh the the thing', atMs: 20_000, confidence: 0.42 },
      { speaker: 'caller', text: '[DTMF 0]', atMs: 22_000 },
      { speaker: 'bot', text: 'Let me put you through to a colleague.', atMs: 23_000 },
    ],
    escalation: { reason: 'caller asked for a person', target: 'agent', outcome: 'no-answer', atMs: 24_000 },
    ...overrides,
  });
}
