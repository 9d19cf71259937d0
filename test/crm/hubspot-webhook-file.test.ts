import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallEventBus, type CallEvent } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm, type Crm } from '../../src/crm/index.js';
import { signBody, verifyBody } from '../../src/crm/signature.js';
import { startHubspotEmulator, type HubspotEmulator } from '../emulators/hubspot/server.js';
import { readBody } from '../emulators/http-util.js';
import { captureLogger, config, makeRecord, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let crm: Crm | undefined;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await crm?.close();
  crm = undefined;
  tmp.cleanup();
});

const startCrm = async (sinks: unknown[], events = new CallEventBus()) => {
  const { logger } = captureLogger();
  crm = await createCrm(
    config({
      crm: { sinks: sinks as never, outbox: { dir: join(tmp.dir, 'outbox'), baseDelayMs: 20, maxDelayMs: 100 } },
    }),
    logger,
    createMetrics(false),
    events,
  );
  return crm;
};

describe('HubSpot sink', () => {
  let hs: HubspotEmulator;
  beforeEach(async () => {
    hs = await startHubspotEmulator();
  });
  afterEach(async () => hs.close());
  const sink = (extra: Record<string, unknown> = {}) => ({
    type: 'hubspot',
    baseUrl: hs.url,
    accessToken: hs.token,
    ...extra,
  });

  it('finds the contact stored in another format, logs a call (194) and notes (202) on it, updates the call at the end', async () => {
    const contact = hs.addContact({ phone: '(555) 123-4567', firstname: 'Ada' });
    const events = new CallEventBus();
    const seen: CallEvent[] = [];
    events.subscribe((e) => seen.push(e));
    const c = await startCrm([sink({ recordingBaseUrl: 'https://rec.example.com/calls' })], events);
    await c.submit('escalation', makeRecord());
    await c.submit('end', makeRecord({ recording: { path: '/var/rec/call-1.wav', format: 'wav' } }));
    await c.outbox.drained(AbortSignal.timeout(5000));

    expect(hs.byType('contacts')).toHaveLength(1);
    const calls = hs.byType('calls');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.associations).toEqual([{ toId: contact.id, typeId: 194 }]);
    expect(calls[0]!.properties).toMatchObject({
      hs_call_direction: 'INBOUND',
      hs_call_status: 'COMPLETED',
      hs_call_duration: '42000',
      hs_call_from_number: '+15551234567',
      hs_call_recording_url: 'https://rec.example.com/calls/call-1.wav',
    });
    const notes = hs.byType('notes');
    expect(notes).toHaveLength(2);
    expect(notes.every((n) => n.associations[0]?.typeId === 202 && n.associations[0].toId === contact.id)).toBe(true);
    expect(notes[0]!.properties.hs_note_body).toContain('Summary: Caller disputes a charge');
    expect(seen.filter((e) => e.type === 'ticket')).toEqual([
      { type: 'ticket', callId: 'call-1', ticketId: calls[0]!.id, sink: 'hubspot' },
    ]);
  });

  it('creates the contact when absent and retries a 429 (RATE_LIMIT JSON body)', async () => {
    hs.rateLimitNext = 2;
    const c = await startCrm([sink()]);
    await c.submit('end', makeRecord({ escalation: undefined, outcome: 'resolved' }));
    await c.outbox.drained(AbortSignal.timeout(8000));
    const [contact] = hs.byType('contacts');
    expect(contact?.properties.phone).toBe('+15551234567');
    expect(hs.byType('calls')[0]!.associations[0]!.toId).toBe(contact!.id);
    expect(hs.stats.get('GET 429')).toBe(2); // both refusals were retried
    expect(hs.byType('contacts')).toHaveLength(1);
  });

  it('two calls from a new number seconds apart share one contact although search lags fresh writes', async () => {
    await hs.close();
    hs = await startHubspotEmulator({ searchLagMs: 60_000 });
    const c = await startCrm([sink()]);
    await c.submit('end', makeRecord({ callId: 'a' }));
    await c.submit('end', makeRecord({ callId: 'b', phone: '15551234567' }));
    await c.outbox.drained(AbortSignal.timeout(5000));
    expect(hs.byType('contacts')).toHaveLength(1);
    expect(hs.byType('calls')).toHaveLength(2);
  });

  it('does not create contacts when createContacts is false', async () => {
    const c = await startCrm([sink({ createContacts: false })]);
    await c.submit('end', makeRecord());
    await c.outbox.drained(AbortSignal.timeout(5000));
    expect(hs.byType('contacts')).toHaveLength(0);
    expect(hs.byType('calls')[0]!.associations).toEqual([]);
  });
});

describe('webhook and file sinks', () => {
  it('POSTs the CallRecord signed with X-Voicebot-Signature that a receiver can verify', async () => {
    const got: Array<{ headers: IncomingMessage['headers']; body: string; verified: boolean }> = [];
    let failFirst = true;
    const server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        const body = raw.toString('utf8');
        const sig = req.headers['x-voicebot-signature'] as string | undefined;
        got.push({ headers: req.headers, body, verified: verifyBody('s3cret', body, sig).ok });
        res.writeHead(failFirst ? 503 : 200, { 'content-type': 'text/plain' }).end(failFirst ? 'busy' : 'OK');
        failFirst = false;
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const c = await startCrm([{ type: 'webhook', url, secret: 's3cret' }]);
      await c.submit('end', makeRecord());
      await c.outbox.drained(AbortSignal.timeout(5000));
      expect(got).toHaveLength(2);
      expect(got.every((g) => g.verified)).toBe(true);
      expect(JSON.parse(got[1]!.body)).toMatchObject({ callId: 'call-1', intent: 'billing_question' });
      expect(got[1]!.headers['x-voicebot-delivery']).toBe('webhook-call-1-end');
      expect(got[1]!.headers['x-voicebot-event']).toBe('end');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('signature verification rejects tampering, wrong secrets and stale timestamps', () => {
    const body = '{"a":1}';
    const now = 1_800_000_000;
    const header = signBody('k', body, now);
    expect(verifyBody('k', body, header, 300, now)).toEqual({ ok: true });
    expect(verifyBody('k', '{"a":2}', header, 300, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyBody('other', body, header, 300, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyBody('k', body, header, 300, now + 301)).toEqual({ ok: false, reason: 'stale' });
    expect(verifyBody('k', body, 't=abc,v1=zz', 300, now)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('file sink appends one JSON line per delivery (the embedded default)', async () => {
    const path = join(tmp.dir, 'tickets.jsonl');
    const c = await startCrm([{ type: 'file', path }]);
    await c.submit('escalation', makeRecord());
    await c.submit('end', makeRecord());
    await c.outbox.drained(AbortSignal.timeout(5000));
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { jobId: string; event: string; record: { callId: string } });
    expect(lines.map((l) => [l.jobId, l.event, l.record.callId])).toEqual([
      ['file-call-1-escalation', 'escalation', 'call-1'],
      ['file-call-1-end', 'end', 'call-1'],
    ]);
  });

  it('one record fans out to several sinks, each with its own job', async () => {
    const c = await startCrm([
      { type: 'file', path: join(tmp.dir, 'a.jsonl') },
      { type: 'file', path: join(tmp.dir, 'b.jsonl') },
    ]);
    await c.submit('end', makeRecord());
    await c.outbox.drained(AbortSignal.timeout(5000));
    expect(readFileSync(join(tmp.dir, 'a.jsonl'), 'utf8')).toContain('"jobId":"file-call-1-end"');
    expect(readFileSync(join(tmp.dir, 'b.jsonl'), 'utf8')).toContain('"jobId":"file-2-call-1-end"');
  });
});
