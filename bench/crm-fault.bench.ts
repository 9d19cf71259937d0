/**
 * CRM outbox under faults: calls' records against the Zendesk emulator (hostile: unrelated lookup results and
 * answers about other records, plus 429 / 5xx / answers slower than the client timeout on 20 % of requests) and
 * against the HubSpot emulator (search lag, unrelated contacts, same faults), one SIGKILL of the delivering process
 * mid-delivery each, then a restart. Every comment / note is checked against the call of its ticket. Simulated peers.
 * Prints one JSON line per figure.
 */
import { runFaultScenario } from '../test/crm/fault-scenario.js';
import { figure } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const calls = Number(process.env.CRM_FAULT_CALLS ?? sized(1000, 40));
for (const crm of ['zendesk', 'hubspot'] as const) {
  const counts = await runFaultScenario({ crm, calls, faultRate: 0.2 });
  const line = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
    figure('crm-fault', metric, value, unit, { crm, ...extra });
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
