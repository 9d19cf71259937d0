import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runFaultScenario, type FaultCounts } from './fault-scenario.js';

const keep = (counts: FaultCounts) => {
  console.log(JSON.stringify({ bench: 'crm-fault', ...counts }));
  mkdirSync('test-artifacts', { recursive: true });
  writeFileSync(`test-artifacts/crm-fault-${counts.crm}.json`, `${JSON.stringify(counts, null, 2)}\n`);
};

/** What must hold after any fault run: every call has exactly its own ticket, with only its own comments. */
const expectNothingLostOrCrossed = (counts: FaultCounts) => {
  expect(counts.killedAtTickets).toBeLessThan(counts.calls); // the kill really happened mid-delivery
  expect(counts.lost).toBe(0);
  expect(counts.duplicated).toBe(0);
  expect(counts.tickets).toBe(counts.calls);
  expect(counts.commentsChecked).toBeGreaterThanOrEqual(counts.calls); // the foreign check compared something
  expect(counts.foreignComments).toBe(0);
  expect(counts.misfiledCallers).toBe(0);
  expect(counts.duplicateComments).toBe(0);
  expect(counts.missingEndComments).toBe(0);
  expect(counts.deadLetters).toBe(0);
};

describe('CRM delivery under faults and kill -9', () => {
  it('Zendesk, hostile (unrelated lookup results, foreign answers): 1000 calls, 20 % failing requests, one SIGKILL', async () => {
    const counts = await runFaultScenario({ crm: 'zendesk', calls: 1000, faultRate: 0.2 });
    keep(counts);
    expect(counts.injectedFaults).toBeGreaterThan(300);
    expectNothingLostOrCrossed(counts);
  }, 120_000);

  it('HubSpot (search lag, unrelated contacts): 600 calls, 20 % failing requests, one SIGKILL: no duplicates', async () => {
    const counts = await runFaultScenario({ crm: 'hubspot', calls: 600, faultRate: 0.2 });
    keep(counts);
    expect(counts.injectedFaults).toBeGreaterThan(300);
    expectNothingLostOrCrossed(counts);
    expect(counts.duplicateContacts).toBe(0);
  }, 120_000);
});
