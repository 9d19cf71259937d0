import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { ConfigError } from '../../src/config/load.js';
import { writeWav } from '../../src/media/wav.js';
import type { CallArchive } from '../../src/web/call-api/archive.js';
import { registerCallApi } from '../../src/web/call-api/routes.js';
import { createWebServer } from '../../src/web/server.js';
import { captureLogger, config, tempDir } from '../crm/helpers.js';
import { storyRecord } from '../crm/story.js';

const TOKEN = 'zd-app-read-token-93b1';
const CONSOLE = 'agent-console-token-11aa';

/** GET /api/calls/:callId and its recording: the read-only API behind the Zendesk sidebar app. */
describe('call API', () => {
  let tmp: ReturnType<typeof tempDir>;
  let web: FastifyInstance;
  let archive: CallArchive | undefined;
  let lines: Array<Record<string, unknown>>;
  let url: string;
  const events = new CallEventBus();
  let clockMs = Date.parse('2026-12-05T10:00:00Z');
  let wav: string;

  const start = async (callApi: Record<string, unknown> = {}) => {
    const captured = captureLogger('debug');
    lines = captured.lines;
    const cfg = config({
      web: {
        agentConsole: { token: CONSOLE },
        callApi: {
          token: TOKEN,
          dir: join(tmp.dir, 'calls'),
          allowedOrigins: ['https://*.apps.zdusercontent.com'],
          ...callApi,
        },
      },
    });
    web = await createWebServer({ logger: captured.logger, metrics: createMetrics(false) });
    archive = await registerCallApi(web, {
      config: cfg.web.callApi,
      events,
      logger: captured.logger,
      now: () => clockMs,
    });
    url = await web.listen({ host: '127.0.0.1', port: 0 });
  };
  const endCall = async () => {
    events.publish({ type: 'call-ended', callId: 'call-7', record: storyRecord({ recording: undefined }) });
    events.publish({ type: 'recording', callId: 'call-7', path: wav }); // Asterisk: the file comes after hangup
    await archive!.flush();
  };
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { headers });
  const bearer = (t = TOKEN) => ({ authorization: `Bearer ${t}` });

  beforeEach(() => {
    tmp = tempDir();
    wav = join(tmp.dir, 'call-7.wav');
    writeFileSync(wav, writeWav(new Int16Array(8000 * 4).fill(300), 8000));
  });
  afterEach(async () => {
    await web?.close();
    tmp.cleanup();
  });

  it('401 without a token, 403 with a wrong one or the console token, 400 for a token in the URL, 200 with the read token', async () => {
    await start();
    await endCall();
    const none = await get('/api/calls/call-7');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await get('/api/calls/call-7', bearer('nope'))).status).toBe(403);
    expect((await get('/api/calls/call-7', bearer(CONSOLE))).status).toBe(403);
    const basic = { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` };
    expect((await get('/api/calls/call-7', basic)).status).toBe(403); // header form: Bearer only
    expect((await get(`/api/calls/call-7?token=${TOKEN}`)).status).toBe(400);
    expect((await get(`/api/calls/call-7?token=${TOKEN}`, bearer())).status).toBe(400);
    const ok = await get('/api/calls/call-7', bearer());
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect((await get('/api/calls/other', bearer())).status).toBe(404);
  });

  it('the timeline: turns with confidence (low ones marked), intents by turn, escalation outcome; no number, no path', async () => {
    await start();
    await endCall();
    const body = (await (await get('/api/calls/call-7', bearer())).json()) as Record<string, unknown> & {
      turns: Array<Record<string, unknown>>;
      recording: { url: string; expiresAt: string };
    };
    expect(body).toMatchObject({
      callId: 'call-7',
      intent: 'order_status',
      nluConfidence: 0.88,
      outcome: 'transfer-failed',
      escalation: { reason: 'caller asked for a person', target: 'agent', outcome: 'no-answer', atMs: 24_000 },
      slots: { order_number: '12344', reason: 'damaged' },
    });
    expect(body.turns).toHaveLength(8);
    expect(body.turns[1]).toEqual({
      atMs: 3000,
      speaker: 'caller',
      text: 'My order 1 2 3 4 4 <b>arrived</b> broken',
      confidence: 0.93,
      low: false,
      intent: 'order_status',
    });
    expect(body.turns[5]).toMatchObject({ atMs: 20_000, confidence: 0.42, low: true, intent: null });
    expect(body.turns[2]).toMatchObject({ interrupted: true });
    expect(body.recording.url).toMatch(/^\/api\/calls\/call-7\/recording\?exp=\d+&sig=[\w-]+$/);
    expect(body.recording.expiresAt).toBe('2026-12-05T10:10:00.000Z');
    const text = JSON.stringify(body);
    expect(text).not.toContain('+15551234567');
    expect(text).not.toContain(tmp.dir);
    expect(text).not.toContain(TOKEN);
  });

  it('the recording plays from its link (with byte ranges) until it expires; a link for one call opens no other', async () => {
    await start({ recordingLinkTtlSec: 60 });
    await endCall();
    const link = ((await (await get('/api/calls/call-7', bearer())).json()) as { recording: { url: string } }).recording
      .url;
    const full = await get(link);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await full.arrayBuffer()).length).toBe(44 + 8000 * 4 * 2);
    const part = await get(link, { range: 'bytes=0-43' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-43/${44 + 64_000}`);
    expect(
      Buffer.from(await part.arrayBuffer())
        .subarray(0, 4)
        .toString(),
    ).toBe('RIFF');
    expect((await get(link.replace(/sig=[\w-]+/, 'sig=AAAA'))).status).toBe(403);
    expect((await get(link.replace('call-7', 'call-8'))).status).toBe(403);
    expect((await get('/api/calls/call-7/recording')).status).toBe(401);
    expect((await get('/api/calls/call-7/recording', bearer())).status).toBe(200);
    clockMs += 61_000; // web.callApi.recordingLinkTtlSec: 60
    const late = await get(link);
    expect(late.status).toBe(403);
    expect(await late.text()).toContain('expired');
  });

  it("CORS: Zendesk's app iframe origin may read it, other origins may not", async () => {
    await start();
    await endCall();
    const pre = await fetch(`${url}/api/calls/call-7`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://d3v-acme.apps.zdusercontent.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://d3v-acme.apps.zdusercontent.com');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    const evil = await fetch(`${url}/api/calls/call-7`, {
      method: 'OPTIONS',
      headers: { origin: 'https://apps.zdusercontent.com.evil.example', 'access-control-request-method': 'GET' },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const read = await get('/api/calls/call-7', { ...bearer(), origin: 'https://x.apps.zdusercontent.com' });
    expect(read.headers.get('access-control-allow-origin')).toBe('https://x.apps.zdusercontent.com');
    const other = await get('/api/calls/call-7', { ...bearer(), origin: 'http://x.apps.zdusercontent.com' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull(); // http is not https
  });

  it('keeps finished calls in web.callApi.dir; the token never reaches a log line', async () => {
    await start({ dir: join(tmp.dir, 'elsewhere') });
    await endCall();
    expect(readdirSync(join(tmp.dir, 'elsewhere'))).toHaveLength(1);
    expect(existsSync(join(tmp.dir, 'calls'))).toBe(false);
    await get('/api/calls/call-7', bearer());
    await get('/api/calls/call-7', bearer('wrong-guess'));
    await get(`/api/calls/call-7?token=${TOKEN}`);
    await get(`/api/calls/call-7/recording?exp=1&sig=${TOKEN}`);
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect(JSON.stringify(lines)).not.toContain('wrong-guess');
  });

  it('is not mounted without a token; the read token cannot be the console token', async () => {
    const captured = captureLogger();
    web = await createWebServer({ logger: captured.logger, metrics: createMetrics(false) });
    const none = await registerCallApi(web, { config: config({}).web.callApi, events, logger: captured.logger });
    expect(none).toBeUndefined();
    url = await web.listen({ host: '127.0.0.1', port: 0 });
    expect((await get('/api/calls/call-7', bearer())).status).toBe(404);
    let error: unknown;
    try {
      config({ web: { agentConsole: { token: CONSOLE }, callApi: { token: CONSOLE } } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).keys).toContain('web.callApi.token');
  });
});
