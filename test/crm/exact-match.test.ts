import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm, type Crm } from '../../src/crm/index.js';
import { startHubspotEmulator, type HubspotEmulator } from '../emulators/hubspot/server.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { captureLogger, config, makeRecord, tempDir, waitFor } from './helpers.js';

/**
 * Lookups adopt only exact matches, and every write's answer is checked against what was asked: a server or
 * proxy that hands back unrelated or foreign records must never get one caller's data filed on another's ticket.
 */
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

const startCrm = async (sink: Record<string, unknown>) => {
  const { logger, lines } = captureLogger();
  const metrics = createMetrics(false);
  crm = await createCrm(
    config({
      crm: { sinks: [sink as never], outbox: { dir: join(tmp.dir, 'outbox'), baseDelayMs: 20, maxDelayMs: 100 } },
    }),
    logger,
    metrics,
    new CallEventBus(),
  );
  return { crm, lines, metrics };
};

describe('Zendesk: exact external_id and phone matching, checked answers', () => {
  let emu: ZendeskEmulator;
  beforeEach(async () => {
    emu = await startZendeskEmulator({ unrelatedResults: true });
  });
  afterEach(async () => emu.close());
  const sink = () => ({ type: 'zendesk', baseUrl: emu.url, email: emu.email, apiToken: emu.token });
  const auth = () => `Basic ${Buffer.from(`${emu.email}/token:${emu.token}`).toString('base64')}`;
  /** a ticket some other caller (or an earlier run) filed */
  const seedTicket = async (externalId: string) => {
    const res = await fetch(`${emu.url}/api/v2/tickets.json`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
      body: JSON.stringify({
        ticket: { subject: 'other', comment: { body: 'other caller' }, external_id: externalId },
      }),
    });
    return ((await res.json()) as { ticket: { id: number } }).ticket.id;
  };

  it('a retried create ignores unrelated tickets in the external_id lookup and files its own ticket', async () => {
    const foreign = await seedTicket('voicebot-someone-else');
    emu.faults.only = /tickets\.json$/;
    emu.faults.next = [503]; // the first create fails: the retry looks the ticket up before creating again
    const { lines, metrics } = await startCrm(sink());
    await crm!.submit('escalation', makeRecord());
    await crm!.submit('end', makeRecord({ outcome: 'escalated' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));

    expect(emu.stats.get('GET tickets.list 200')).toBeGreaterThanOrEqual(1); // the lookup really happened
    const ours = [...emu.tickets.values()].filter((t) => t.external_id === 'voicebot-call-1');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.comments.map((c) => /voicebot-step: (\S+)\//.exec(c.body)?.[1])).toEqual(['call-1', 'call-1']);
    expect(emu.tickets.get(foreign)!.comments).toHaveLength(1); // untouched
    expect(await metrics.metrics()).toMatch(
      /voicebot_crm_lookup_anomalies_total\{sink="zendesk",kind="unrelated_results"\} [1-9]/,
    );
    expect(lines.some((l) => l.msg === 'zendesk: lookup returned records that do not match; ignored')).toBe(true);
  });

  it('several tickets with our external_id: adopts the lowest id, logs and counts the anomaly', async () => {
    const first = await seedTicket('voicebot-call-1');
    const second = await seedTicket('voicebot-call-1');
    const lowest = Math.min(first, second);
    emu.faults.only = /tickets\.json$/;
    emu.faults.next = [503];
    const { lines, metrics } = await startCrm(sink());
    await crm!.submit('escalation', makeRecord());
    await crm!.submit('end', makeRecord({ outcome: 'escalated' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));

    expect(emu.tickets.size).toBe(2); // nothing new created
    expect(emu.tickets.get(lowest)!.comments.at(-1)!.body).toContain('voicebot-step: call-1/end');
    expect(await metrics.metrics()).toMatch(
      /voicebot_crm_lookup_anomalies_total\{sink="zendesk",kind="several_exact"\} 1/,
    );
    const line = lines.find((l) => String(l.msg).startsWith('zendesk: several tickets'));
    expect(line).toMatchObject({ chosen: lowest, ids: [lowest, Math.max(first, second)] });
  });

  it('a create answered with another ticket is a failed attempt (mismatch metric), never adopted', async () => {
    await seedTicket('voicebot-someone-else');
    emu.faults.only = /tickets\.json$/;
    emu.faults.next = ['foreign'];
    const { metrics } = await startCrm(sink());
    await crm!.submit('escalation', makeRecord());
    await crm!.submit('end', makeRecord({ outcome: 'escalated' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));

    const ours = [...emu.tickets.values()].filter((t) => t.external_id === 'voicebot-call-1');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.comments).toHaveLength(2);
    const text = await metrics.metrics();
    expect(text).toMatch(/voicebot_crm_delivery_mismatches_total\{sink="zendesk"\} 1/);
    expect(text).toMatch(/voicebot_crm_deliveries_total\{sink="zendesk",result="failure",status="mismatch"\} 1/);
  });

  it('an update answered with another ticket is retried, and the comment is not added twice', async () => {
    const wav = join(tmp.dir, 'call-1.wav');
    writeFileSync(wav, Buffer.alloc(64, 1));
    await startCrm(sink());
    await crm!.submit('escalation', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    await seedTicket('voicebot-someone-else');
    emu.faults.only = /tickets\/\d+\.json$/;
    emu.faults.next = ['foreign'];
    await crm!.submit('end', makeRecord({ outcome: 'escalated', recording: { path: wav, format: 'wav' } }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    const ours = [...emu.tickets.values()].find((t) => t.external_id === 'voicebot-call-1')!;
    expect(ours.comments.filter((c) => c.body.includes('voicebot-step: call-1/end'))).toHaveLength(1);
  });

  it('a requester is adopted only when the phone number is the same, not merely a suffix', async () => {
    const neighbour = emu.addUser({ name: 'Local number', phone: '123-4567' });
    await startCrm(sink());
    await crm!.submit('end', makeRecord({ escalation: undefined, outcome: 'resolved' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    const ticket = [...emu.tickets.values()][0]!;
    expect(ticket.requester_id).not.toBe(neighbour.id);
    expect(emu.users.get(ticket.requester_id!)!.phone).toBe('+15551234567');
  });

  it('a user create answered with another user is retried, and the requester is the caller', async () => {
    emu.addUser({ name: 'Someone else', phone: '+4930123456' });
    emu.faults.only = /create_or_update/;
    emu.faults.next = ['foreign'];
    await startCrm(sink());
    await crm!.submit('end', makeRecord({ escalation: undefined, outcome: 'resolved' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    const ticket = [...emu.tickets.values()][0]!;
    expect(emu.users.get(ticket.requester_id!)!.external_id).toBe('voicebot-phone-15551234567');
  });
});

describe('HubSpot: exact contact matching and idempotent writes', () => {
  let hs: HubspotEmulator;
  beforeEach(async () => {
    hs = await startHubspotEmulator({ unrelatedResults: true });
  });
  afterEach(async () => hs.close());
  const sink = () => ({ type: 'hubspot', baseUrl: hs.url, accessToken: hs.token });

  it('ignores unrelated contacts in the search answer and files the call on the caller', async () => {
    const other = hs.addContact({ phone: '+4930123456', firstname: 'Other' });
    const { metrics } = await startCrm(sink());
    await crm!.submit('end', makeRecord({ escalation: undefined, outcome: 'resolved' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    const [call] = hs.byType('calls');
    expect(call!.associations[0]!.toId).not.toBe(other.id);
    expect(hs.objects.get(call!.associations[0]!.toId)!.properties.phone).toBe('+15551234567');
    expect(await metrics.metrics()).toMatch(
      /voicebot_crm_lookup_anomalies_total\{sink="hubspot",kind="unrelated_results"\} 1/,
    );
  });

  it('several contacts with the caller number: the lowest id, counted as an anomaly', async () => {
    const a = hs.addContact({ phone: '+15551234567' });
    hs.addContact({ phone: '(555) 123-4567' });
    const { metrics } = await startCrm(sink());
    await crm!.submit('end', makeRecord({ escalation: undefined, outcome: 'resolved' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    expect(hs.byType('calls')[0]!.associations[0]!.toId).toBe(a.id);
    expect(await metrics.metrics()).toMatch(
      /voicebot_crm_lookup_anomalies_total\{sink="hubspot",kind="several_exact"\} 1/,
    );
  });

  it('a call or note write that times out but lands is not repeated by the retry', async () => {
    hs.faults.only = /objects\/(calls|notes)/;
    hs.faults.next = ['timeout', 'timeout'];
    hs.faults.slowMs = 300;
    await startCrm({ ...sink(), timeoutMs: 100 });
    await crm!.submit('escalation', makeRecord());
    await crm!.submit('end', makeRecord());
    await crm!.outbox.drained(AbortSignal.timeout(8000));
    await waitFor(() => (hs.stats.get('POST slow') ?? 0) === 2 && hs.active === 0, 3000, 'slow writes landed');
    expect(hs.byType('calls')).toHaveLength(1);
    expect(hs.byType('notes')).toHaveLength(2);
  });

  it('creates its unique-value properties once, and dead-letters with a clear message when one lacks unique values', async () => {
    await startCrm(sink());
    await crm!.submit('end', makeRecord({ callId: 'a' }));
    await crm!.submit('end', makeRecord({ callId: 'b' }));
    await crm!.outbox.drained(AbortSignal.timeout(5000));
    expect([...hs.properties.keys()].sort()).toEqual([
      'calls/voicebot_key',
      'contacts/voicebot_phone',
      'notes/voicebot_key',
    ]);
    expect([...hs.properties.values()].every((p) => p.hasUniqueValue)).toBe(true);
    expect(hs.stats.get('POST properties.create 201')).toBe(3);
    await crm!.close();
    crm = undefined;

    const other = await startHubspotEmulator();
    try {
      other.properties.set('calls/voicebot_key', {
        name: 'voicebot_key',
        label: 'Someone else’s',
        type: 'string',
        fieldType: 'text',
        groupName: 'callinformation',
        hasUniqueValue: false,
      });
      const { lines } = await startCrm({ type: 'hubspot', baseUrl: other.url, accessToken: other.token });
      await crm!.submit('end', makeRecord());
      await crm!.outbox.drained(AbortSignal.timeout(5000));
      const [dead] = await crm!.outbox.list();
      expect(dead?.status).toBe('dead');
      expect(dead?.lastError).toContain('calls.voicebot_key exists without "unique values"');
      expect(lines.some((l) => String(l.msg).includes('dead-lettered'))).toBe(true);
      expect(other.byType('calls')).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});
