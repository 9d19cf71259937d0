import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configError, rawGet, startSecurityApp, type SecurityApp } from './helpers.js';

/** Item 4: behind a reverse proxy every request comes from loopback, so "loopback" alone must never be trusted. */
describe('loopback behind proxies (item 4)', () => {
  let s: SecurityApp;
  beforeAll(async () => {
    s = await startSecurityApp();
  });
  afterAll(async () => s?.stop());

  it('grants the token-less console only to a direct loopback client, never to a forwarded request', async () => {
    const host = `127.0.0.1:${s.port}`;
    expect((await rawGet(`${s.url}/agent/api/calls`, { host })).status).toBe(200);
    // proxies that add only X-Real-IP, or Via, or a Forwarded header: someone else's request
    const proxied: Array<Record<string, string>> = [
      { 'x-real-ip': '203.0.113.7' },
      { via: '1.1 nginx' },
      { forwarded: 'for=203.0.113.7' },
      { 'x-forwarded-proto': 'https' },
      { 'x-forwarded-host': 'bot.example.com' },
    ];
    for (const extra of proxied) {
      const res = await rawGet(`${s.url}/agent/api/calls`, { host, ...extra });
      expect(res.status, JSON.stringify(extra)).toBe(403);
    }
  });

  it('makes trust in proxies explicit: with web.trustProxy set, the console needs a token', () => {
    const err = configError(() => loadConfig({ env: {}, overrides: { web: { trustProxy: ['127.0.0.1'] } } }));
    expect(err.keys).toContain('web.agentConsole.token');
  });

  it('behind a trusted proxy, the token decides and X-Forwarded-For names the client', async () => {
    const p = await startSecurityApp({ web: { trustProxy: ['127.0.0.1'], agentConsole: { token: 'console-t0ken' } } });
    try {
      const host = `127.0.0.1:${p.port}`;
      const forwarded = { host, 'x-forwarded-for': '127.0.0.1' };
      expect((await rawGet(`${p.url}/agent/api/calls`, forwarded)).status).toBe(401);
      const ok = await rawGet(`${p.url}/agent/api/calls`, { ...forwarded, authorization: 'Bearer console-t0ken' });
      expect(ok.status).toBe(200);
    } finally {
      await p.stop();
    }
  });
});
