/**
 * CRM outbox under faults: calls' records against the Zendesk emulator (hostile: unrelated lookup results and
 * answers about other records, plus 429 / 5xx / answers slower than the client timeout on 20 % of requests) and
 * against the HubSpot emulator (search lag, unrelated contacts, same faults), one SIGKILL of the delivering process
 * mid-delivery each, then a restart. Every comment / note is checked against the call of its ticket. Simulated peers.
 * CRM_FAULT_OUTBOX=bullmq runs Zendesk on BullMQ with a real redis-server (AOF on) instead: one bot killed mid-delivery;
 * 3 bots sharing the queue, one killed; Redis killed while calls end and the bots killed while it is down.
 * Prints one JSON line per figure.
 */
import { runFaultScenario, type RedisPlan } from '../test/crm/fault-scenario.js';
import { figure } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const calls = Number(process.env.CRM_FAULT_CALLS ?? sized(1000, 40));
/** CRM_FAULT_OUTBOX=file (default: both CRMs on the file outbox), bullmq (Zendesk on BullMQ, three ways) or all */
const which = process.env.CRM_FAULT_OUTBOX ?? 'file';
const scenarios: Array<{ crm: 'zendesk' | 'hubspot'; redis?: RedisPlan }> = [];
if (which !== 'bullmq') scenarios.push({ crm: 'zendesk' }, { crm: 'hubspot' });
if (which !== 'file') {
  scenarios.push(
    { crm: 'zendesk', redis: { appendfsync: 'always' } },
    { crm: 'zendesk', redis: { appendfsync: 'always', instances: 3 } },
    { crm: 'zendesk', redis: { appendfsync: 'everysec', instances: 2, downWhileEnqueueing: true } },
  );
}
for (const { crm, redis } of scenarios) {
  const counts = await runFaultScenario({ crm, calls, faultRate: 0.2, ...(redis ? { redis } : {}) });
  const scenario = redis?.downWhileEnqueueing ? 'redis_down_then_kill' : 'kill_mid_delivery';
  const line = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
    figure('crm-fault', metric, value, unit, {
      crm,
      outbox: counts.outbox,
      instances: counts.instances,
      scenario,
      ...extra,
    });
  line('tickets', counts.tickets, 'count', { calls: counts.calls });
  line('lost', counts.lost, 'count');
  line('duplicated', counts.duplicated, 'count');
  line('foreign_comments', counts.foreignComments, 'count', { checked: counts.commentsChecked });
  line('misfiled_callers', counts.misfiledCallers, 'count');
  line('duplicate_comments', counts.duplicateComments, 'count');
  line('duplicate_contacts', counts.duplicateContacts, 'count');
  line('dead_letters', counts.deadLetters, 'count');
  line('injected_faults', counts.injectedFaults, 'count', {
    requests: counts.requests,
    ratio: +(counts.injectedFaults / counts.requests).toFixed(3),
  });
  line('killed_at_tickets', counts.killedAtTickets, 'count');
  line('wall_time', counts.seconds, 's');
  line('calls_per_second', +(counts.calls / counts.seconds).toFixed(1), 'calls/s');
}
