/**
 * CRM outbox under faults: 1000 calls' records against the Zendesk emulator failing 20 % of requests
 * (429 / 5xx / responses slower than the client timeout), one SIGKILL of the delivering process mid-delivery,
 * then a restart. Prints one JSON line per figure.
 */
import { runFaultScenario } from '../test/crm/fault-scenario.js';
import { figure } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const counts = await runFaultScenario({
  calls: Number(process.env.CRM_FAULT_CALLS ?? sized(1000, 40)),
  faultRate: 0.2,
});
const line = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
  figure('crm-fault', metric, value, unit, extra);
line('tickets', counts.tickets, 'count', { calls: counts.calls });
line('lost', counts.lost, 'count');
line('duplicated', counts.duplicated, 'count');
line('duplicate_end_comments', counts.duplicateEndComments, 'count');
line('dead_letters', counts.deadLetters, 'count');
line('injected_faults', counts.injectedFaults, 'count', {
  requests: counts.requests,
  ratio: +(counts.injectedFaults / counts.requests).toFixed(3),
});
line('killed_at_tickets', counts.killedAtTickets, 'count');
line('wall_time', counts.seconds, 's');
line('calls_per_second', +(counts.calls / counts.seconds).toFixed(1), 'calls/s');
