import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm } from '../../src/crm/index.js';
import { writeWav } from '../../src/media/wav.js';
import { CHROMIUM_PATH } from '../helpers/chromium.js';
import { startZendeskEmulator } from '../emulators/zendesk/server.js';
import { captureLogger, config, tempDir } from './helpers.js';
import { storyRecord } from './story.js';

/**
 * The bot ticket as an agent sees it: the HTML comment the sink delivered (taken from the emulator, as sent), with
 * the ticket's subject, tags and fields around it, rendered in headless Chromium. Keeps a screenshot in
 * test-artifacts/zendesk-ticket.png (docs/images/zendesk-ticket.png is a copy). The frame is our stand-in for
 * Zendesk's agent workspace; the comment is exactly what Zendesk receives.
 */
describe('bot ticket rendered in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => browser?.close());

  it('renders the comment: summary, facts, transcript table with the marked turns; screenshot kept', async () => {
    const emu = await startZendeskEmulator();
    const tmp = tempDir();
    try {
      const wav = join(tmp.dir, 'call-7.wav');
      writeFileSync(wav, writeWav(new Int16Array(8000 * 42), 8000));
      const { logger } = captureLogger();
      const crm = await createCrm(
        config({
          crm: {
            sinks: [{ type: 'zendesk', baseUrl: emu.url, email: emu.email, apiToken: emu.token }],
            outbox: { dir: join(tmp.dir, 'outbox'), baseDelayMs: 20, maxDelayMs: 100 },
          },
        }),
        logger,
        createMetrics(false),
        new CallEventBus(),
      );
      await crm.submit('end', storyRecord({ recording: { path: wav, format: 'wav' } }));
      await crm.outbox.drained(AbortSignal.timeout(5000));
      await crm.close();
      const ticket = [...emu.tickets.values()][0]!;
      const note = ticket.comments[0]!;
      const recording = ticket.comments[1]!;

      const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
      await page.setContent(`<!doctype html><meta charset="utf-8"><style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #2f3941; background: #f8f9f9; }
        header { background: #03363d; color: #fff; padding: 10px 20px; font-weight: 600; }
        main { display: flex; gap: 16px; padding: 16px 20px; }
        aside { width: 250px; background: #fff; border: 1px solid #d8dcde; border-radius: 4px; padding: 12px; }
        aside dt { color: #68737d; font-size: 12px; margin-top: 8px; } aside dd { margin: 0; }
        .tag { display: inline-block; background: #e9ebed; border-radius: 3px; padding: 0 6px; margin: 2px; font-size: 12px; }
        section { flex: 1; } .comment { background: #fff8ed; border: 1px solid #f5d9a8; border-radius: 4px; padding: 12px 16px; margin-bottom: 12px; }
        .who { font-size: 12px; color: #68737d; margin-bottom: 6px; } table { border-collapse: collapse; margin: 6px 0; }
        td, th { border: 1px solid #d8dcde; padding: 3px 8px; vertical-align: top; text-align: left; } th { background: #f3f4f4; }
      </style>
      <header>#${ticket.id} ${ticket.subject}</header>
      <main><aside><dl>
        <dt>Requester</dt><dd>${emu.users.get(ticket.requester_id!)!.name}</dd>
        <dt>Priority</dt><dd>${ticket.priority}</dd>
        <dt>Tags</dt><dd>${ticket.tags.map((t) => `<span class="tag">${t}</span>`).join('')}</dd>
      </dl></aside>
      <section>
        <div class="comment"><div class="who">Voicebot · internal note</div>${note.html_body}</div>
        <div class="comment"><div class="who">Voicebot · internal note · attachment: ${recording.attachments[0]!.file_name}</div>${recording.html_body}</div>
      </section></main>`);
      const text = await page.locator('body').innerText();
      expect(text).toContain('Call ended: transfer to a person failed. Order 12344 arrived damaged');
      expect(await page.locator('.comment table tr').count()).toBeGreaterThanOrEqual(15); // facts + 8 transcript rows
      expect(await page.locator('td:has-text("Keypad: 0")').count()).toBe(1);
      expect(await page.locator('td:has-text("low confidence 42 %")').count()).toBe(1);
      expect(text).toContain('call-7.wav (0:42), attached.');
      mkdirSync('test-artifacts', { recursive: true });
      const png = await page.screenshot({ path: 'test-artifacts/zendesk-ticket.png', fullPage: true });
      expect(png.length).toBeGreaterThan(20_000);
      await page.close();
    } finally {
      await emu.close();
      tmp.cleanup();
    }
  }, 60_000);
});
