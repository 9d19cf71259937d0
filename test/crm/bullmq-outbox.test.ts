import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallEventBus, type CallEvent } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { captureLogger, config, makeRecord, tempDir, waitFor } from './helpers.js';

describe('BullMQ outbox (real redis-server)', () => {
  let redis: RedisServer;
  let emu: ZendeskEmulator;
  const tmp = tempDir('voicebot-bullmq-');
  beforeAll(async () => {
    redis = await startRedis();
    emu = await startZendeskEmulator();
  });
  afterAll(async () => {
    await emu?.close();
    await redis?.stop();
    tmp.cleanup();
  });

  const cfg = (prefix: string, token = emu.token) =>
    config({
      redis: { url: redis.url, keyPrefix: prefix },
      crm: {
        sinks: [{ type: 'zendesk', baseUrl: emu.url, email: emu.email, apiToken: token }],
        outbox: { dir: join(tmp.dir, prefix), baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 4 },
      },
    });

  it('delivers escalation then end to one ticket through Redis, retrying 5xx and honouring order', async () => {
    const { logger } = captureLogger('warn');
    const events = new CallEventBus();
    const seen: CallEvent[] = [];
    events.subscribe((e) => seen.push(e));
    const crm = await createCrm(cfg('t1:'), logger, createMetrics(false), events);
    try {
      expect(crm.outbox.kind).toBe('redis');
      emu.faults.next = [503, 500];
      await crm.submit('escalation', makeRecord({ callId: 'r-1' }));
      await crm.submit('end', makeRecord({ callId: 'r-1' }));
      await crm.submit('end', makeRecord({ callId: 'r-1' })); // repeated submit: same job id, no second job
      await crm.outbox.drained(AbortSignal.timeout(10_000));
      const mine = [...emu.tickets.values()].filter((t) => t.external_id === 'voicebot-r-1');
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
      expect([...emu.tickets.values()].filter((t) => t.external_id === 'voicebot-r-2')).toHaveLength(1);
      expect(await crm.outbox.list()).toEqual([]);
    } finally {
      await crm.close();
    }
  });
});
