import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { configError, metric, rawGet, startSecurityApp, type SecurityApp } from './helpers.js';

/** Item 3: a web page on evil.example whose name is re-pointed at 127.0.0.1 must read nothing from the bot. */
describe('DNS rebinding (item 3)', () => {
  let s: SecurityApp;
  beforeAll(async () => {
    s = await startSecurityApp();
  });
  afterAll(async () => s?.stop());

  it('refuses a foreign Host on the agent console, its API and its event stream, even from loopback', async () => {
    for (const path of ['/agent', '/agent/api/calls', '/agent/events', '/metrics', '/']) {
      const res = await rawGet(`${s.url}${path}`, { host: `evil.example:${s.port}` });
      expect(res.status, path).toBe(421);
      expect(res.body).not.toContain('calls');
    }
    expect(await metric(s.url, 'voicebot_web_rejected_requests_total', { reason: 'host' })).toBe(5);
  });

  it('serves loopback clients that use an IP literal or localhost', async () => {
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`]) {
      const res = await rawGet(`${s.url}/agent/api/calls`, { host });
      expect(res.status, host).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ calls: [] });
    }
  });

  it('accepts the names in web.allowedHosts and web.publicUrl, and no other', async () => {
    const named = await startSecurityApp({
      web: { allowedHosts: ['bot.internal'], publicUrl: 'https://voice.example.com' },
    });
    try {
      const status = async (host: string) => (await rawGet(`${named.url}/healthz`, { host })).status;
      expect(await status(`bot.internal:${named.port}`)).toBe(200);
      expect(await status('voice.example.com')).toBe(200);
      expect(await status('evil.example')).toBe(421);
      expect(await status('bot.internal.evil.example')).toBe(421);
    } finally {
      await named.stop();
    }
  });

  it('refuses the test-call WebSocket upgrade with Host: evil.example and a matching Origin', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/test-call/ws`, {
      headers: { host: 'evil.example', origin: 'http://evil.example' },
    });
    const status = await new Promise<number>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', reject);
    });
    ws.terminate();
    expect(status).toBe(421);
    expect(await metric(s.url, 'voicebot_browser_calls_total')).toBe(0);
  });

  it('will not start a console without a token unless the server listens on loopback', () => {
    const err = configError(() => loadConfig({ env: {}, overrides: { web: { host: '0.0.0.0' } } }));
    expect(err.keys).toContain('web.agentConsole.token');
    // with a token, or with the console off, the same bind address is fine
    expect(
      loadConfig({ env: {}, overrides: { web: { host: '0.0.0.0', agentConsole: { token: 'x' } } } }).web.host,
    ).toBe('0.0.0.0');
  });
});
