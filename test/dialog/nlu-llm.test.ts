import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createIntentDetector } from '../../src/dialog/nlu/index.js';
import { ChatClient, ChatError } from '../../src/dialog/nlu/chat-client.js';
import { LlmIntentDetector } from '../../src/dialog/nlu/llm.js';
import { RuleIntentDetector } from '../../src/dialog/nlu/rules.js';
import { createLogger } from '../../src/log/logger.js';
import { ChatPeer, waitFor } from './chat-peer.js';
import { SUPPORT_LINE } from './harness.js';

const peer = new ChatPeer();
const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

beforeAll(() => peer.listen());
afterAll(() => peer.close());

function detector(timeoutMs = 1000) {
  const config = loadConfig({
    file: SUPPORT_LINE,
    env: {},
    overrides: { dialog: { llm: { enabled: true, baseUrl: peer.baseUrl, timeoutMs, apiKey: 'sk-test-123' } } },
  });
  const metrics = createMetrics(false);
  return { nlu: createIntentDetector(config.dialog, logger, metrics), metrics, config };
}

async function fallbacks(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const m = await metrics.getSingleMetric('voicebot_dialog_nlu_fallbacks_total')!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.reason), v.value]));
}

describe('LLM intent detection over an OpenAI-compatible API', () => {
  it('sends a json_schema response_format with the configured intents and uses the answer', async () => {
    peer.handler = peer.answer(
      JSON.stringify({
        intent: 'order_status',
        confidence: 0.88,
        reply: 'Let me look that up.',
        escalate: false,
        slots: { order_number: '4711' },
      }),
    );
    const { nlu } = detector();
    const r = await nlu.detect('where is my parcel, number four seven one one');
    expect(r).toEqual({
      intent: 'order_status',
      confidence: 0.88,
      slots: { order_number: '4711' },
      escalate: false,
      reply: 'Let me look that up.',
      source: 'llm',
    });
    const req = peer.requests.at(-1)!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-test-123');
    const format = req.body.response_format as {
      type: string;
      json_schema: { schema: { required: string[]; properties: { intent: { enum: string[] } } } };
    };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.schema.properties.intent.enum).toEqual([
      'billing',
      'order_status',
      'technical_problem',
      'cancel',
      'talk_to_person',
      'goodbye',
      'none',
    ]);
    expect(format.json_schema.schema.required).toEqual(['intent', 'confidence', 'reply', 'escalate', 'slots']);
    expect(req.body.model).toBe('llama3.1:8b');
  });

  it('"none" means no intent', async () => {
    peer.handler = peer.answer('{"intent":"none","confidence":0.3,"reply":"","escalate":false,"slots":{}}');
    expect(await detector().nlu.detect('blah')).toMatchObject({ intent: null, source: 'llm' });
  });

  it('falls back to the rules on timeout, and the request is abandoned', async () => {
    peer.handler = peer.hang();
    const { nlu, metrics } = detector(200);
    const abandonedBefore = peer.abandoned;
    const t0 = performance.now();
    const r = await nlu.detect('I was charged twice');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r).toMatchObject({ intent: 'billing', source: 'rules' });
    expect(await fallbacks(metrics)).toEqual({ timeout: 1 });
    await waitFor(() => peer.abandoned > abandonedBefore);
  });

  it.each([
    ['malformed JSON', 'this is not json {', 'malformed'],
    [
      'an intent outside the enum',
      '{"intent":"pizza","confidence":0.9,"reply":"","escalate":false,"slots":{}}',
      'schema',
    ],
    [
      'a confidence out of range',
      '{"intent":"billing","confidence":7,"reply":"","escalate":false,"slots":{}}',
      'schema',
    ],
  ])('falls back to the rules on %s', async (_name, content, reason) => {
    peer.handler = peer.answer(content);
    const { nlu, metrics } = detector();
    expect(await nlu.detect('I want to cancel')).toMatchObject({ intent: 'cancel', source: 'rules' });
    expect(await fallbacks(metrics)).toEqual({ [reason]: 1 });
  });

  it('falls back on an HTTP error', async () => {
    peer.handler = peer.answer('{"error":"model not loaded"}', 503);
    const { nlu, metrics } = detector();
    expect(await nlu.detect('my app keeps crashing')).toMatchObject({ intent: 'technical_problem', source: 'rules' });
    expect(await fallbacks(metrics)).toEqual({ http: 1 });
  });

  it('accepts JSON in code fences', async () => {
    peer.handler = peer.answer(
      '```json\n{"intent":"cancel","confidence":0.7,"reply":"ok","escalate":false,"slots":{}}\n```',
    );
    expect(await detector().nlu.detect('stop it')).toMatchObject({ intent: 'cancel', source: 'llm' });
  });

  it('an aborted call aborts the request at once instead of falling back', async () => {
    peer.handler = peer.hang();
    const rules = new RuleIntentDetector([]);
    const client = new ChatClient({ baseUrl: peer.baseUrl, model: 'm', timeoutMs: 10_000 });
    const llm = new LlmIntentDetector(client, rules, { intents: [] }, logger);
    const ac = new AbortController();
    const abandonedBefore = peer.abandoned;
    const pending = llm.detect('hello', { signal: ac.signal });
    await waitFor(() => peer.pending.length > 0 && peer.requests.at(-1)?.body.model === 'm');
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(ChatError);
    await waitFor(() => peer.abandoned > abandonedBefore);
  });
});
