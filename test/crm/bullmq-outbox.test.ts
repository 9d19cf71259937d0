import { describe, expect, it } from 'vitest';
import { CallEventBus, type CallEvent } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { markerStep } from './fault-calls.js';
import { captureLogger, makeRecord, waitFor } from './helpers.js';
import { redisCrmFixture } from './redis-crm.js';

describe('BullMQ outbox (real redis-server)', () => {
  const fx = redisCrmFixture();
  const cfg = fx.cfg;

  it('delivers escalation then end to one ticket through Redis, retrying 5xx and honouring order', async () => {
    const { logger } = captureLogger('warn');
    const events = new CallEventBus();
    const seen: CallEvent[] = [];
    events.subscribe((e) => seen.push(e));
    const crm = await createCrm(cfg('t1:'), logger, createMetrics(false), events);
    try {
      expect(crm.outbox.kind).toBe('redis');
      fx.emu.faults.next = [503, 500];
      await crm.submit('escalation', makeRecord({ callId: 'r-1' }));
      await crm.submit('end', makeRecord({ callId: 'r-1' }));
      await crm.submit('end', makeRecord({ callId: 'r-1' })); // repeated submit: same job id, no second job
      await crm.outbox.drained(AbortSignal.timeout(10_000));
      const mine = [...fx.emu.tickets.values()].filter((t) => t.external_id === 'voicebot-r-1');
      expect(mine).toHaveLength(1);
      expect(mine[0]!.comments).toHaveLength(2);
      expect(mine[0]!.comments[1]!.body).toContain('voicebot-step: r-1/end');
      expect(seen.filter((e) => e.type === 'ticket')).toHaveLength(1);
    } finally {
      await crm.close();
    }
  });

  it('dead-letters a rejected job to the failed set, lists it, and retries it after the fix', async () => {
    const { logger } = captureLogger('warn');
    let crm = await createCrm(cfg('t2:', 'wrong'), logger, createMetrics(false), new CallEventBus());
    await crm.submit('end', makeRecord({ callId: 'r-2' }));
    const box = crm.outbox;
    await waitFor(async () => (await box.list()).some((e) => e.status === 'dead'), 10_000, 'dead letter');
    const [entry] = await crm.outbox.list();
    expect(entry).toMatchObject({ id: 'zendesk-r-2-end', status: 'dead' });
    expect(entry!.lastError).toContain('401');
    await crm.close();

    crm = await createCrm(cfg('t2:'), logger, createMetrics(false), new CallEventBus());
    try {
      expect(await crm.outbox.retry('zendesk-r-2-end')).toBe(1);
      await crm.outbox.drained(AbortSignal.timeout(10_000));
      expect([...fx.emu.tickets.values()].filter((t) => t.external_id === 'voicebot-r-2')).toHaveLength(1);
      expect(await crm.outbox.list()).toEqual([]);
    } finally {
      await crm.close();
    }
  });

  it('401 then a fixed token and `outbox retry`: 5 calls make 5 tickets, each with its escalation and end', async () => {
    const { logger } = captureLogger('warn');
    const calls = Array.from({ length: 5 }, (_, i) => `ord-${i}`);
    let crm = await createCrm(cfg('o1:', 'wrong-token'), logger, createMetrics(false), new CallEventBus());
    for (const callId of calls) {
      await crm.submit('escalation', makeRecord({ callId }));
      await crm.submit('end', makeRecord({ callId }));
    }
    const box = crm.outbox;
    await waitFor(
      async () => (await box.list()).filter((e) => e.status === 'dead').length === 10,
      15_000,
      'ten dead letters',
    );
    await crm.close();

    crm = await createCrm(cfg('o1:'), logger, createMetrics(false), new CallEventBus());
    try {
      expect(await crm.outbox.retry()).toBe(10);
      await crm.outbox.drained(AbortSignal.timeout(15_000));
      for (const callId of calls) {
        const mine = [...fx.emu.tickets.values()].filter((t) => t.external_id === `voicebot-${callId}`);
        expect(mine, callId).toHaveLength(1);
        const steps = mine[0]!.comments.map((c) => markerStep(c.body));
        expect(steps, callId).toEqual([`${callId}/escalation`, `${callId}/end`]);
      }
      expect(await crm.outbox.list()).toEqual([]);
    } finally {
      await crm.close();
    }
  }, 40_000);
});
