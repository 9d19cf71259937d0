/**
 * The delivering process of the CRM fault scenario (spawned with tsx, killed with SIGKILL mid-delivery).
 * MODE=enqueue submits COUNT calls' records, prints ENQUEUED, delivers; MODE=resume only delivers what is left.
 * Prints one JSON line {"drained":true,...} when the outbox is empty.
 */
import { validate } from '../../src/config/load.js';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { createLogger } from '../../src/log/logger.js';
import { makeRecord } from './helpers.js';

const env = process.env;
const count = Number(env.COUNT ?? 1000);
const config = validate({
  log: { level: 'silent' },
  crm: {
    sinks: [
      {
        type: 'zendesk',
        baseUrl: env.ZD_URL!,
        email: env.ZD_EMAIL!,
        apiToken: env.ZD_TOKEN!,
        timeoutMs: Number(env.ZD_TIMEOUT_MS ?? 250),
      },
    ],
    outbox: {
      dir: env.OUTBOX_DIR!,
      baseDelayMs: 20,
      maxDelayMs: 400,
      maxAttempts: 60,
      concurrency: 32,
      attemptTimeoutMs: 5000,
    },
  },
});
const logger = createLogger({
  level: (env.LOG_LEVEL as 'silent' | undefined) ?? 'silent',
  format: 'json',
  redactPhoneNumbers: false,
});
const events = new CallEventBus();
let tickets = 0;
events.subscribe((e) => {
  if (e.type === 'ticket') tickets++;
});
const crm = await createCrm(config, logger, createMetrics(false), events);

if (env.MODE === 'enqueue') {
  const submitCall = async (i: number) => {
    const callId = `fault-${String(i).padStart(4, '0')}`;
    const phone = `+1555${String(1_000_000 + (i % 200)).slice(1)}`;
    const escalated = i % 3 === 0;
    const base = makeRecord({ callId, phone, intent: i % 2 === 0 ? 'billing_question' : 'opening_hours' });
    if (escalated) await crm.submit('escalation', base);
    await crm.submit('end', {
      ...base,
      outcome: escalated ? 'escalated' : 'resolved',
      ...(escalated ? {} : { escalation: undefined }),
    });
  };
  // Calls end concurrently in real life too; the journal group-commits their fsyncs.
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, k) => submitCall(i + k)));
  }
  process.stdout.write(`${JSON.stringify({ enqueued: count })}\n`);
}
await crm.outbox.drained();
const dead = (await crm.outbox.list()).filter((e) => e.status === 'dead').length;
process.stdout.write(`${JSON.stringify({ drained: true, dead, ticketEvents: tickets })}\n`);
await crm.close();
