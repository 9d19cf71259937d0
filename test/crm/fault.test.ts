import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runFaultScenario } from './fault-scenario.js';

describe('CRM delivery under faults and kill -9', () => {
  it('1000 calls, 20 % failing requests, one SIGKILL mid-delivery: no ticket lost, none duplicated', async () => {
    const counts = await runFaultScenario({ calls: 1000, faultRate: 0.2 });
    console.log(JSON.stringify({ bench: 'crm-fault', ...counts }));
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync('test-artifacts/crm-fault.json', `${JSON.stringify(counts, null, 2)}\n`);
    expect(counts.killedAtTickets).toBeLessThan(1000); // the kill really happened mid-delivery
    expect(counts.injectedFaults).toBeGreaterThan(300);
    expect(counts.lost).toBe(0);
    expect(counts.duplicated).toBe(0);
    expect(counts.tickets).toBe(1000);
    expect(counts.duplicateEndComments).toBe(0);
    expect(counts.missingEndComments).toBe(0);
    expect(counts.deadLetters).toBe(0);
  }, 90_000);
});
