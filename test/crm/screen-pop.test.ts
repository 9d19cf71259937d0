import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { verifyBody } from '../../src/crm/signature.js';
import { readBody } from '../emulators/http-util.js';
import { captureLogger, config, makeRecord, tempDir, waitFor } from './helpers.js';

describe('screen-pop webhook', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('POSTs a signed screen pop at escalation and an update when the ticket exists', async () => {
    const got: Array<{ body: Record<string, unknown>; ok: boolean }> = [];
    const server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        const text = raw.toString('utf8');
        got.push({
          body: JSON.parse(text) as Record<string, unknown>,
          ok: verifyBody('pop-secret', text, req.headers['x-voicebot-signature'] as string).ok,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const events = new CallEventBus();
    const crm = await createCrm(
      config({
        web: { publicUrl: 'https://bot.example.com' },
        crm: {
          sinks: [{ type: 'file', path: join(tmp.dir, 't.jsonl') }],
          outbox: { dir: join(tmp.dir, 'outbox') },
          screenPopWebhookUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/pop`,
          screenPopWebhookSecret: 'pop-secret',
        },
      }),
      captureLogger().logger,
      createMetrics(false),
      events,
    );
    try {
      events.publish({
        type: 'escalation',
        callId: 'call-1',
        target: 'agent',
        address: 'PJSIP/agent',
        reason: 'asked for a person',
        record: makeRecord(),
      });
      await waitFor(() => got.length === 1, 3000, 'screen pop');
      expect(got[0]!.ok).toBe(true);
      expect(got[0]!.body).toMatchObject({
        type: 'screen-pop',
        callId: 'call-1',
        phone: '+15551234567',
        target: 'agent',
        intent: 'billing_question',
        confidence: 0.83,
        consoleUrl: 'https://bot.example.com/agent',
      });
      events.publish({
        type: 'ticket',
        callId: 'call-1',
        ticketId: '77',
        url: 'https://z/agent/tickets/77',
        sink: 'zendesk',
      });
      await waitFor(() => got.length === 2, 3000, 'screen pop update');
      expect(got[1]!.body).toMatchObject({
        type: 'screen-pop-update',
        ticket: { id: '77', url: 'https://z/agent/tickets/77' },
      });
    } finally {
      await crm.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    expect(events.listenerCount).toBe(0);
  });
});
