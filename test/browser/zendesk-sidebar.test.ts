import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { writeWav } from '../../src/media/wav.js';
import { registerCallApi } from '../../src/web/call-api/routes.js';
import { createWebServer } from '../../src/web/server.js';
import { captureLogger, config, tempDir } from '../crm/helpers.js';
import { storyRecord } from '../crm/story.js';
import { CHROMIUM_PATH } from '../helpers/chromium.js';
import { REPO_ROOT } from '../helpers/cli.js';

const TOKEN = 'sidebar-read-token-7c2d';
const APP = join(REPO_ROOT, 'zendesk-app');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/**
 * A local stand-in for what Zendesk gives the app: `ZAFClient.init()` with the ticket's data and the app's
 * non-secure settings, and `request()` going through a stand-in for Zendesk's proxy, which fills in the secure
 * token server-side, so the token never reaches the page (as with Zendesk's real proxy).
 */
const zafStandIn = (botUrl: string) => `
window.ZAFClient = {
  init() {
    return {
      metadata: async () => ({ settings: { botUrl: ${JSON.stringify(`${botUrl}/`)}, callIdFieldId: 13 } }),
      get: async (paths) => Object.fromEntries([].concat(paths).map((p) => [p, p === 'ticket.externalId' ? 'voicebot-call-7' : null])),
      invoke: async (name, size) => { window.__resized = size; },
      request: async (options) => {
        const res = await fetch('/zaf-proxy', { method: 'POST', body: JSON.stringify(options) });
        if (!res.ok) throw { status: res.status };
        return res.json();
      },
    };
  },
};`;

/** The sidebar app in headless Chromium: the timeline it renders and the line that follows the recording. */
describe('Zendesk sidebar app (zendesk-app/)', () => {
  let browser: Browser;
  let web: FastifyInstance;
  let appServer: Server;
  let tmp: ReturnType<typeof tempDir>;
  let botUrl: string;
  let appUrl: string;
  const proxied: string[] = [];

  beforeAll(async () => {
    tmp = tempDir();
    const wav = join(tmp.dir, 'call-7.wav');
    // 42 s, the call's length: a quiet tone so the player has something to play
    const pcm = Int16Array.from({ length: 8000 * 42 }, (_, i) =>
      Math.round(800 * Math.sin((2 * Math.PI * 220 * i) / 8000)),
    );
    writeFileSync(wav, writeWav(pcm, 8000));
    const { logger } = captureLogger();
    const events = new CallEventBus();
    web = await createWebServer({ logger, metrics: createMetrics(false) });
    const cfg = config({ web: { callApi: { token: TOKEN, dir: join(tmp.dir, 'calls') } } });
    const archive = await registerCallApi(web, { config: cfg.web.callApi, events, logger });
    botUrl = await web.listen({ host: '127.0.0.1', port: 0 });
    events.publish({
      type: 'call-ended',
      callId: 'call-7',
      record: storyRecord({ recording: { path: wav, format: 'wav' } }),
    });
    await archive!.flush();

    appServer = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://app').pathname;
      if (req.method === 'POST' && path === '/zaf-proxy') {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          const opts = JSON.parse(body) as { url: string; headers: Record<string, string>; secure?: boolean };
          proxied.push(opts.url);
          // Zendesk's proxy sends secure settings only to the app's allowed domains, and only when asked to
          if (!opts.secure || new URL(opts.url).origin !== botUrl) return void res.writeHead(403).end();
          const headers = Object.fromEntries(
            Object.entries(opts.headers).map(([k, v]) => [k, v.replace('{{setting.botApiToken}}', TOKEN)]),
          );
          fetch(opts.url, { headers })
            .then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()))
            .catch(() => res.writeHead(502).end());
        });
        return;
      }
      const file = normalize(join(APP, path));
      if (!file.startsWith(join(APP, 'assets'))) return void res.writeHead(404).end();
      try {
        res
          .writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
          .end(readFileSync(file));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => appServer.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await new Promise((r) => appServer?.close(r));
    tmp?.cleanup();
  });

  it('shows the call timeline; the highlighted line follows the recording; screenshot kept', async () => {
    const page = await browser.newPage({ viewport: { width: 340, height: 760 } });
    const seen: string[] = [];
    page.on('request', (r) => seen.push(`${r.url()} ${JSON.stringify(r.headers())} ${r.postData() ?? ''}`));
    // the SDK comes from Zendesk's CDN: here the stand-in answers instead, nothing is downloaded
    await page.route('https://static.zdassets.com/**', (route) =>
      route.fulfill({ contentType: 'text/javascript', body: zafStandIn(botUrl) }),
    );
    await page.goto(`${appUrl}/assets/iframe.html`);
    await page.locator('ol.turns li').nth(7).waitFor({ timeout: 10_000 });

    const facts = await page.locator('.facts').innerText();
    expect(facts).toMatch(/Intent\s+order_status/);
    expect(facts).toMatch(/Confidence\s+88 %/);
    expect(facts).toMatch(/Outcome\s+transfer-failed/);
    expect(facts).toMatch(/Escalation\s+caller asked for a person → agent/);
    expect(facts).toMatch(/Agent leg\s+no-answer/);
    expect(await page.locator('ol.turns li').count()).toBe(8);
    const low = page.locator('ol.turns li.low');
    expect(await low.count()).toBe(1);
    expect(await low.innerText()).toContain('uh the the thing');
    expect(await low.locator('.badge').innerText()).toBe('low 42 %');
    expect(await page.locator('ol.turns li').nth(1).locator('.badge').innerText()).toBe('93 %');
    // caller words stay text
    expect(await page.locator('ol.turns li').nth(1).innerText()).toContain('<b>arrived</b>');
    expect(await page.locator('ol.turns b').count()).toBe(0);

    // (page code as strings: this project type-checks without the DOM library)
    const current = () => page.locator('ol.turns li.current').getAttribute('data-at');
    const highlighted = (atMs: number) =>
      page.waitForFunction(`document.querySelector('ol.turns li.current')?.dataset.at === '${atMs}'`, null, {
        timeout: 10_000,
      });
    await page.evaluate(`(async () => {
      const audio = document.querySelector('audio');
      audio.currentTime = 2.5;
      await audio.play();
    })()`);
    // playback crosses 3 s: the caller's first line lights up
    await highlighted(3000);
    expect(await page.evaluate(`document.querySelector('audio').currentTime`)).toBeGreaterThanOrEqual(3);
    await page.evaluate(`document.querySelector('audio').currentTime = 19.6`);
    await highlighted(20_000);
    expect(await page.locator('ol.turns li.current').count()).toBe(1);
    await page.evaluate(`document.querySelector('audio').pause()`);
    expect(await current()).toBe('20000');

    // the token went through the stand-in proxy only: never in the page, a URL, a header the browser sent
    expect(proxied).toEqual([`${botUrl}/api/calls/call-7`]);
    expect(seen.some((s) => s.includes('/api/calls/call-7/recording?exp='))).toBe(true);
    expect(seen.join('\n')).not.toContain(TOKEN);
    expect(await page.content()).not.toContain(TOKEN);

    mkdirSync('test-artifacts', { recursive: true });
    const png = await page.screenshot({ path: 'test-artifacts/zendesk-sidebar.png', fullPage: true });
    expect(png.length).toBeGreaterThan(10_000);
    await page.close();
  }, 60_000);

  it('says so for a ticket the bot did not file, and when the bot refuses', async () => {
    /** The app on a ticket whose external id is `externalId`: waits for `expected` to show. */
    const openOn = async (externalId: string, expected: string) => {
      const page = await browser.newPage();
      const body = zafStandIn(botUrl).replace("'voicebot-call-7'", JSON.stringify(externalId));
      await page.route('https://static.zdassets.com/**', (route) =>
        route.fulfill({ contentType: 'text/javascript', body }),
      );
      await page.goto(`${appUrl}/assets/iframe.html`);
      await page.locator(expected).waitFor({ timeout: 10_000 });
      await page.close();
    };
    await openOn('crm-123', '.status:has-text("not filed by the voicebot")');
    await openOn('voicebot-nope', '.error:has-text("Could not load the call (404)")');
  }, 30_000);
});
