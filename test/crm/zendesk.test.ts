import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallEventBus, type CallEvent } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm, type Crm } from '../../src/crm/index.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { captureLogger, config, makeRecord, tempDir, waitFor } from './helpers.js';

describe('Zendesk sink over the outbox', () => {
  let emu: ZendeskEmulator;
  let tmp: ReturnType<typeof tempDir>;
  let crm: Crm | undefined;
  const events = new CallEventBus();
  const seen: CallEvent[] = [];
  const unsubscribe = events.subscribe((e) => seen.push(e));

  beforeEach(async () => {
    emu = await startZendeskEmulator();
    tmp = tempDir();
    seen.length = 0;
  });
  afterEach(async () => {
    await crm?.close();
    crm = undefined;
    await emu.close();
    tmp.cleanup();
  });
  afterAll(() => unsubscribe());

  const start = async (zendesk: Record<string, unknown> = {}, outbox: Record<string, unknown> = {}) => {
    const { logger, lines } = captureLogger();
    const metrics = createMetrics(false);
    const cfg = config({
      crm: {
        sinks: [{ type: 'zendesk', baseUrl: emu.url, email: emu.email, apiToken: emu.token, ...zendesk }],
        outbox: { dir: join(tmp.dir, 'outbox'), baseDelayMs: 20, maxDelayMs: 200, ...outbox },
      },
    });
    crm = await createCrm(cfg, logger, metrics, events);
    return { lines, metrics };
  };

  it('creates one ticket at escalation and updates the same ticket at the end, with the recording attached', async () => {
    const { metrics } = await start({
      customFields: { intent: 901, callId: 902, 'slots.account': 903 },
      priorityByIntent: { billing_question: 'high' },
    });
    const wav = join(tmp.dir, 'call-1.wav');
    writeFileSync(wav, Buffer.alloc(1024, 1));
    await crm!.submit('escalation', makeRecord());
    await waitFor(() => emu.tickets.size === 1, 5000, 'ticket created');
    await crm!.submit(
      'end',
      makeRecord({ outcome: 'escalated', recording: { path: wav, format: 'wav', bytes: 1024 } }),
    );
    await crm!.outbox.drained(AbortSignal.timeout(5000));

    expect(emu.tickets.size).toBe(1);
    const ticket = [...emu.tickets.values()][0]!;
    expect(ticket.subject).toBe('Phone call: Billing question');
    expect(ticket.tags).toEqual(
      expect.arrayContaining(['voicebot', 'billing_question', 'escalated', 'outcome_escalated']),
    );
    expect(ticket.priority).toBe('high');
    expect(ticket.external_id).toBe('voicebot-call-1');
    expect(ticket.custom_fields).toEqual([
      { id: 901, value: 'billing_question' },
      { id: 902, value: 'call-1' },
      { id: 903, value: '12345' },
    ]);
    const requester = emu.users.get(ticket.requester_id!);
    expect(requester?.phone).toBe('+15551234567');
    expect(ticket.comments).toHaveLength(2);
    const [first, last] = ticket.comments;
    expect(first!.public).toBe(false);
    expect(first!.body).toMatch(/^Call handed to a person\. Caller disputes a charge/);
    expect(first!.body).toContain('Intent Billing question (billing_question), confidence 83 %');
    expect(first!.body).toContain('00:02 Caller I was charged twice on my bill.');
    expect(last!.attachments).toEqual([{ file_name: 'call-1.wav', content_type: 'audio/wav', size: 1024 }]);

    const ticketEvents = seen.filter((e) => e.type === 'ticket');
    expect(ticketEvents).toEqual([
      {
        type: 'ticket',
        callId: 'call-1',
        ticketId: String(ticket.id),
        sink: 'zendesk',
        url: `${emu.url}/agent/tickets/${ticket.id}`,
      },
    ]);
    const text = await metrics.metrics();
    expect(text).toMatch(/voicebot_crm_deliveries_total\{sink="zendesk",result="success",status="ok"\} 2/);
    expect(text).toMatch(/voicebot_crm_outbox_depth 0/);
  });

  it('finds an existing requester stored in another phone format', async () => {
    const user = emu.addUser({ name: 'Ada', phone: '(555) 123-4567' });
    await start();
    await crm!.submit('end', makeRecord({ escalation: undefined, outcome: 'resolved' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    expect([...emu.tickets.values()][0]!.requester_id).toBe(user.id);
    expect(emu.users.size).toBe(1);
  });

  it('honours Retry-After on 429 before retrying', async () => {
    emu.faults.retryAfterSec = 1;
    emu.faults.next = [429];
    await start();
    const t0 = Date.now();
    await crm!.submit('escalation', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(8000));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(emu.tickets.size).toBe(1);
    expect(emu.stats.get('GET 429')).toBe(1);
  });

  it('a timed-out create is retried with the same Idempotency-Key and never duplicates', async () => {
    emu.faults.only = /tickets\.json$/;
    emu.faults.next = ['timeout'];
    emu.faults.slowMs = 600;
    await start({ timeoutMs: 150 });
    await crm!.submit('escalation', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(8000));
    await waitFor(() => (emu.stats.get('POST slow') ?? 0) === 1, 3000, 'slow request finished');
    expect(emu.tickets.size).toBe(1);
  });

  it('adopts a ticket by external_id when the idempotency key no longer protects (expired or concurrent)', async () => {
    await emu.close();
    emu = await startZendeskEmulator({ concurrentDuplicate: 'create', idempotencyTtlMs: 1 });
    emu.faults.only = /tickets\.json$/;
    emu.faults.next = ['timeout'];
    // lands within the settle time the client gives a timed-out write (as long again as its timeout) before retrying
    emu.faults.slowMs = 140;
    await start({ timeoutMs: 100 }, { baseDelayMs: 400, maxDelayMs: 800 });
    await crm!.submit('escalation', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(8000));
    expect(emu.tickets.size).toBe(1);
    expect(emu.stats.get('GET tickets.list 200')).toBeGreaterThanOrEqual(1);
  });

  it('dead-letters a 401 with a clear log line, and `retry` delivers it once fixed', async () => {
    const { lines, metrics } = await start({ apiToken: 'wrong-token' });
    await crm!.submit('escalation', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    const dead = (await crm!.outbox.list()).filter((e) => e.status === 'dead');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.lastError).toContain('401');
    const line = lines.find((l) => String(l.msg).includes('dead-lettered'));
    expect(line?.msg).toContain('rejected it (401)');
    expect(line?.msg).toContain('voicebot outbox retry zendesk-call-1-escalation');
    expect(JSON.stringify(lines)).not.toContain('wrong-token');
    expect(await metrics.metrics()).toMatch(/voicebot_crm_dead_letters_total\{sink="zendesk"\} 1/);
    expect(emu.tickets.size).toBe(0);
  });

  it('dead-letters 422 validation errors without retrying', async () => {
    emu.faults.only = /tickets\.json$/;
    emu.faults.next = [422];
    const { lines } = await start();
    await crm!.submit('escalation', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    const entries = await crm!.outbox.list();
    expect(entries.map((e) => [e.status, e.attempts])).toEqual([['dead', 1]]);
    expect(lines.some((l) => String(l.msg).includes('rejected it (422)'))).toBe(true);
    expect(emu.tickets.size).toBe(0);
  });

  it('an anonymous caller still gets a ticket (no requester lookup)', async () => {
    await start();
    await crm!.submit('end', makeRecord({ phone: 'anonymous', escalation: undefined, outcome: 'resolved' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    expect(emu.tickets.size).toBe(1);
    expect([...emu.tickets.values()][0]!.requester_id).toBeNull();
    expect(emu.users.size).toBe(0);
  });
});
