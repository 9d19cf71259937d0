import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { markerStep } from './fault-calls.js';
import { captureLogger, config, makeRecord, tempDir, waitFor } from './helpers.js';

describe('BullMQ outbox keeps each call in order (real redis-server)', () => {
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
        outbox: { dir: join(tmp.dir, prefix), baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 4, concurrency: 16 },
      },
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
        const mine = [...emu.tickets.values()].filter((t) => t.external_id === `voicebot-${callId}`);
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
