/**
 * The delivering process of the CRM fault scenario (spawned with tsx, killed with SIGKILL mid-delivery).
 * CRM=zendesk|hubspot picks the sink (CRM_URL / CRM_EMAIL / CRM_TOKEN / CRM_TIMEOUT_MS point it at the emulator).
 * MODE=enqueue submits COUNT calls' records (from call FIRST on), prints ENQUEUED, delivers; MODE=resume only delivers
 * what is left. REDIS_URL set: the BullMQ outbox on that server (OUTBOX_DIR is then its spill dir, TAKEOVER_MS its
 * crm.outbox.takeoverAfterMs), else the file outbox in OUTBOX_DIR.
 * Prints one JSON line {"drained":true,...} when the outbox is empty.
 */
import { validate } from '../../src/config/load.js';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { createLogger } from '../../src/log/logger.js';
import { faultCallEscalated, faultCallId, faultCallPhone } from './fault-calls.js';
import { makeRecord } from './helpers.js';

const env = process.env;
const count = Number(env.COUNT ?? 1000);
const first = Number(env.FIRST ?? 0);
const config = validate({
  log: { level: 'silent' },
  ...(env.REDIS_URL ? { redis: { url: env.REDIS_URL, keyPrefix: 'fault:' } } : {}),
  crm: {
    sinks: [
      env.CRM === 'hubspot'
        ? {
            type: 'hubspot',
            baseUrl: env.CRM_URL!,
            accessToken: env.CRM_TOKEN!,
            timeoutMs: Number(env.CRM_TIMEOUT_MS ?? 250),
          }
        : {
            type: 'zendesk',
            baseUrl: env.CRM_URL!,
            email: env.CRM_EMAIL!,
            apiToken: env.CRM_TOKEN!,
            timeoutMs: Number(env.CRM_TIMEOUT_MS ?? 250),
          },
    ],
    outbox: {
      dir: env.OUTBOX_DIR!,
      enqueueTimeoutMs: 500,
      takeoverAfterMs: Number(env.TAKEOVER_MS ?? 30_000),
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
    const escalated = faultCallEscalated(i);
    const base = makeRecord({
      callId: faultCallId(i),
      phone: faultCallPhone(i),
      intent: i % 2 === 0 ? 'billing_question' : 'opening_hours',
    });
    if (escalated) await crm.submit('escalation', base);
    await crm.submit('end', {
      ...base,
      outcome: escalated ? 'escalated' : 'resolved',
      ...(escalated ? {} : { escalation: undefined }),
    });
  };
  // Calls end concurrently in real life too; the journal group-commits their fsyncs.
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, k) => submitCall(first + i + k)));
  }
  process.stdout.write(`${JSON.stringify({ enqueued: count })}\n`);
}
await crm.outbox.drained();
const dead = (await crm.outbox.list()).filter((e) => e.status === 'dead').length;
process.stdout.write(`${JSON.stringify({ drained: true, dead, ticketEvents: tickets })}\n`);
await crm.close();
