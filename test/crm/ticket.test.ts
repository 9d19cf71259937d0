import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import type { CallRecord } from '../../src/core/call-record.js';
import { createMetrics } from '../../src/core/metrics.js';
import { noteBody } from '../../src/crm/format.js';
import { createCrm, type Crm } from '../../src/crm/index.js';
import { writeWav } from '../../src/media/wav.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { captureLogger, config, tempDir } from './helpers.js';
import { storyRecord } from './story.js';

/** The ticket an agent opens: what the HTML comment, the fields and the tags say about a call. */
describe('a bot ticket worth reading', () => {
  let emu: ZendeskEmulator;
  let tmp: ReturnType<typeof tempDir>;
  let crm: Crm | undefined;
  beforeEach(async () => {
    emu = await startZendeskEmulator();
    tmp = tempDir();
  });
  afterEach(async () => {
    await crm?.close();
    crm = undefined;
    await emu.close();
    tmp.cleanup();
  });

  const deliver = async (events: Array<['escalation' | 'end', CallRecord]>) => {
    const { logger } = captureLogger();
    crm = await createCrm(
      config({
        crm: {
          sinks: [
            {
              type: 'zendesk',
              baseUrl: emu.url,
              email: emu.email,
              apiToken: emu.token,
              customFields: { intent: 11, nluConfidence: 12, callId: 13, outcome: 14, durationSec: 15, escalated: 16 },
            },
          ],
          outbox: { dir: join(tmp.dir, 'outbox'), baseDelayMs: 20, maxDelayMs: 100 },
        },
      }),
      logger,
      createMetrics(false),
      new CallEventBus(),
    );
    for (const [event, record] of events) await crm.submit(event, record);
    await crm.outbox.drained(AbortSignal.timeout(5000));
    expect(emu.tickets.size).toBe(1);
    return [...emu.tickets.values()][0]!;
  };

  it('HTML comment: summary first, intent/confidence/outcome, story, escalation, recording length, transcript table', async () => {
    const wav = join(tmp.dir, 'call-7.wav');
    writeFileSync(wav, writeWav(new Int16Array(8000 * 42), 8000)); // 42 s at 8 kHz
    const record = storyRecord({ recording: { path: wav, format: 'wav' } });
    const ticket = await deliver([
      [
        'escalation',
        {
          ...record,
          outcome: 'in-progress',
          escalation: { ...record.escalation!, outcome: 'pending' },
          recording: undefined,
        },
      ],
      ['end', record],
    ]);
    expect(ticket.comments).toHaveLength(2);
    const end = ticket.comments[1]!;
    const html = end.html_body;
    // summary first
    expect(html.indexOf('Order 12344 arrived damaged')).toBeLessThan(html.indexOf('<table>'));
    expect(end.body.split('\n')[0]).toBe(
      'Call ended: transfer to a person failed. Order 12344 arrived damaged; caller wants a replacement.',
    );
    expect(end.body).toContain('Intent Order status (order_status), confidence 88 %');
    expect(end.body).toContain('Outcome transfer to a person failed');
    expect(end.body).toContain('Details order_number: 12344, reason: damaged');
    expect(end.body).toContain(
      'Intents by turn 00:03 order_status (88 %) · 00:09 order_status (91 %) · 00:20 not understood (21 %)',
    );
    expect(end.body).toContain('Escalation caller asked for a person at 00:24 → agent: no agent answered');
    expect(end.body).toContain('Recording call-7.wav, 0:42 (attached)');
    expect(end.attachments).toEqual([{ file_name: 'call-7.wav', content_type: 'audio/wav', size: 8000 * 42 * 2 + 44 }]);
    // the transcript as a table, with the low-confidence turn, the barge-in and the keypad press marked
    expect(html).toContain('<tr><th>Time</th><th>Speaker</th><th>Text</th></tr>');
    expect(html).toContain(
      '<tr><td>00:03</td><td>Caller</td><td>My order 1 2 3 4 4 &lt;b&gt;arrived&lt;/b&gt; broken</td></tr>',
    );
    expect(html).toContain(
      '<td>00:20</td><td>Caller</td><td>⚠ <em>low confidence 42 %, check the recording:</em> uh the the thing</td>',
    );
    expect(html).toContain('Sorry to hear … [interrupted] <em>(cut off: the caller spoke over the bot)</em>');
    expect(html).toContain('<td>00:22</td><td>Caller</td><td><strong>Keypad: 0</strong></td>');
    expect(html).not.toContain('<b>arrived</b>'); // caller words are text, never markup
  });

  it('fields and tags: intent, confidence, call id, outcome, duration, escalated; tags for views and triggers', async () => {
    const record = storyRecord({ intent: 'callback', asrConfidence: 0.5 });
    const ticket = await deliver([['end', record]]);
    expect(ticket.custom_fields).toEqual([
      { id: 11, value: 'callback' },
      { id: 12, value: 0.88 },
      { id: 13, value: 'call-7' },
      { id: 14, value: 'transfer-failed' },
      { id: 15, value: 42 },
      { id: 16, value: true },
    ]);
    expect(ticket.tags).toEqual([
      'voicebot',
      'callback',
      'escalated',
      'outcome_transfer_failed',
      'voicebot_low_confidence',
    ]);
    expect(emu.users.get(ticket.requester_id!)!.phone).toBe('+15551234567');
  });

  it('the end update refreshes the fields the escalation wrote (outcome, duration)', async () => {
    const record = storyRecord();
    const ticket = await deliver([
      ['escalation', { ...record, outcome: 'in-progress', durationMs: 24_000 }],
      ['end', record],
    ]);
    expect(ticket.comments).toHaveLength(2);
    expect(ticket.custom_fields).toContainEqual({ id: 14, value: 'transfer-failed' });
    expect(ticket.custom_fields).toContainEqual({ id: 15, value: 42 });
  });

  it('plain-text fallback (HubSpot notes, webhooks): the same story as text', () => {
    const text = noteBody(storyRecord(), 'end');
    expect(text).toContain('Summary: Order 12344 arrived damaged; caller wants a replacement.');
    expect(text).toContain('Details: order_number=12344, reason=damaged');
    expect(text).toContain('[00:22] Caller: [DTMF 0]');
    expect(text).toContain('voicebot-step: call-7/end');
  });
});
