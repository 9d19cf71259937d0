import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { normaliseSpokenDigits } from '../../src/dialog/nlu/spoken-digits.js';
import {
  EXAMPLE_CONFIDENCE_MAX,
  KEYWORD_CONFIDENCE,
  PATTERN_CONFIDENCE,
  RuleIntentDetector,
} from '../../src/dialog/nlu/rules.js';
import { decide, decideDtmf } from '../../src/dialog/policy.js';
import { routeFor } from '../../src/dialog/routing.js';
import { chooseResponse, renderTemplate } from '../../src/dialog/templates.js';
import { SUPPORT_LINE } from './harness.js';

const config = loadConfig({ file: SUPPORT_LINE, env: {} });
const rules = new RuleIntentDetector(config.dialog.intents);

describe('spoken digits', () => {
  it.each([
    ['one two three four', '1234'],
    ['double five', '55'],
    ['triple seven two', '7772'],
    ['four oh seven', '407'],
    ['my order is one two three four, thanks', 'my order is 1234 thanks'],
    ['1 2 3-4', '1234'],
    ['oh, my order', 'oh, my order'],
    ['zero nine double oh one', '09001'],
    ['order five. Two more things', 'order 5. 2 more things'], // sentence end splits runs,
  ])('%s → %s', (spoken, digits) => {
    expect(normaliseSpokenDigits(spoken)).toBe(digits);
  });
});

describe('rule matcher', () => {
  it('grades pattern > keyword > example overlap', async () => {
    const pattern = await rules.detect('I was charged twice this month');
    const keyword = await rules.detect('question about an invoice');
    const example = await rules.detect('please help me log in, I cannot');
    expect(pattern).toMatchObject({ intent: 'billing', confidence: PATTERN_CONFIDENCE, source: 'rules' });
    expect(keyword).toMatchObject({ intent: 'billing', confidence: KEYWORD_CONFIDENCE });
    expect(example.intent).toBe('technical_problem');
    expect(example.confidence).toBeGreaterThan(0);
    expect(example.confidence).toBeLessThan(EXAMPLE_CONFIDENCE_MAX);
  });

  it('returns no intent for unrelated speech', async () => {
    expect(await rules.detect('the weather is lovely')).toMatchObject({ intent: null, confidence: 0, slots: {} });
  });

  it('extracts slots from spoken digits', async () => {
    const r = await rules.detect("where's my order, it's one two three double four");
    expect(r).toMatchObject({ intent: 'order_status', slots: { order_number: '12344' } });
  });

  it('fills the previous intent slot from a bare answer', async () => {
    const r = await rules.detect('it is nine eight seven six five', { previousIntent: 'order_status' });
    expect(r).toMatchObject({ intent: 'order_status', slots: { order_number: '98765' } });
    expect((await rules.detect('it is nine eight seven six five')).intent).toBeNull();
  });

  it('marks escalate intents', async () => {
    expect(await rules.detect('I want a human')).toMatchObject({ intent: 'talk_to_person', escalate: true });
  });
});

describe('templates', () => {
  it('fills placeholders and picks the response that uses the most filled slots', () => {
    expect(renderTemplate('Order {n} for {who}', { n: '12' })).toBe('Order 12 for {who}');
    const responses = ['Order {order_number} is on its way.', 'What is your order number?'];
    expect(chooseResponse(responses, {})).toBe('What is your order number?');
    expect(chooseResponse(responses, { order_number: '1234' })).toBe('Order 1 2 3 4 is on its way.');
    expect(chooseResponse(['Hi {x}'], {})).toBeUndefined();
  });
});

describe('routing', () => {
  it('routes an intent to its target, everything else to the default', () => {
    expect(routeFor(config.dialog, 'billing')).toEqual({
      name: 'billing',
      target: { kind: 'endpoint', address: 'PJSIP/billing', timeoutSec: 30 },
    });
    expect(routeFor(config.dialog, 'technical_problem').target).toEqual({
      kind: 'endpoint',
      address: 'PJSIP/tech',
      timeoutSec: 45,
    });
    expect(routeFor(config.dialog, 'cancel').name).toBe('agent');
    expect(routeFor(config.dialog, null).name).toBe('agent');
  });

  it('config rejects routes to unknown targets', () => {
    expect(() =>
      loadConfig({ env: {}, overrides: { dialog: { intents: [{ name: 'x', route: 'nowhere' }] } } }),
    ).toThrow(/dialog\.intents\.0\.route: routing target "nowhere"/);
    expect(() => loadConfig({ env: {}, overrides: { dialog: { routing: { default: 'nobody' } } } })).toThrow(
      /dialog\.routing\.default/,
    );
    expect(() =>
      loadConfig({ env: {}, overrides: { dialog: { intents: [{ name: 'x', patterns: ['(('] }] } } }),
    ).toThrow(/invalid regular expression/);
  });
});

describe('dialog config', () => {
  it('takes env overrides, a numeric DTMF digit, and rejects a bad one', () => {
    const c = loadConfig({
      env: { VOICEBOT_DIALOG__LLM__ENABLED: 'true', VOICEBOT_DIALOG__ESCALATE_DIGIT: '9' },
    });
    expect(c.dialog.llm.enabled).toBe(true);
    expect(c.dialog.escalateDigit).toBe('9');
    expect(() => loadConfig({ env: {}, overrides: { dialog: { escalateDigit: 'ab' } } })).toThrow(/escalateDigit/);
  });
});

describe('policy', () => {
  const d = config.dialog;
  const nlu = (intent: string | null, confidence: number, escalate = false) => ({
    intent,
    confidence,
    slots: {},
    escalate,
    source: 'rules' as const,
  });
  const fresh = { lowConfidenceStreak: 0 };

  it('answers a confident intent with its template', () => {
    const r = decide(d, 'cancel it', nlu('cancel', 0.75), fresh);
    expect(r.decision).toMatchObject({ kind: 'answer', intent: 'cancel', hangup: false });
    expect(r.state.lowConfidenceStreak).toBe(0);
  });

  it('uses the LLM reply when the intent has no template, else the fallback reply', () => {
    const withReply = { ...nlu('talk_to_person', 0.9), escalate: false, reply: 'Sure thing.' };
    expect(decide(d, 'x', withReply, fresh).decision).toMatchObject({ kind: 'answer', reply: 'Sure thing.' });
    expect(decide(d, 'x', nlu('talk_to_person', 0.9), fresh).decision).toMatchObject({ reply: d.fallbackReply });
  });

  it('clarifies on low confidence, escalates after maxLowConfidenceTurns in a row', () => {
    const first = decide(d, 'hmm', nlu('billing', 0.2), fresh);
    expect(first.decision).toEqual({ kind: 'clarify', reply: d.clarify });
    expect(first.state.lowConfidenceStreak).toBe(1);
    const second = decide(d, 'hmm', nlu(null, 0), first.state);
    expect(second.decision).toMatchObject({ kind: 'escalate', reason: 'low-confidence', route: { name: 'agent' } });
  });

  it('escalates on angry words and person requests before anything else', () => {
    expect(decide(d, 'This is RIDICULOUS', nlu('billing', 0.9), fresh).decision).toMatchObject({
      kind: 'escalate',
      reason: 'angry',
      route: { name: 'billing' },
    });
    expect(decide(d, 'can I speak to someone', nlu('cancel', 0.9), fresh).decision).toMatchObject({
      reason: 'caller-request',
    });
    // word boundaries: "operators" in a product name is not "operator"
    expect(decide(d, 'the operatorsX app', nlu('cancel', 0.9), fresh).decision.kind).toBe('answer');
  });

  it('escalates intents marked escalate', () => {
    expect(decide(d, 'x', nlu('talk_to_person', 0.9, true), fresh).decision).toMatchObject({ reason: 'intent' });
  });

  it('DTMF: the escalation digit escalates, others do nothing', () => {
    expect(decideDtmf(d, '0', 'billing')).toMatchObject({
      kind: 'escalate',
      reason: 'dtmf',
      route: { name: 'billing' },
    });
    expect(decideDtmf(d, '5', null)).toBeNull();
    expect(decideDtmf({ ...d, escalateDigit: '' }, '0', null)).toBeNull();
  });
});
