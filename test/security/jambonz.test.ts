import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { signWebhook } from '../../jambonz-adapter/src/signature.js';
import { waitFor } from '../helpers/wait.js';
import { JAMBONZ_SECRET, JAMBONZ_WS_AUTH, configError, metric, startJambonzApp, type SecurityApp } from './helpers.js';

const SECRET = JAMBONZ_SECRET;
const WS_AUTH = { user: JAMBONZ_WS_AUTH.username, password: JAMBONZ_WS_AUTH.password };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Opens the WS API as jambonz would; resolves with the open socket or the HTTP status of a refusal. */
function openWsApi(url: string, headers: Record<string, string>): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/jambonz/ws', ['ws.jambonz.org'], { headers });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', reject);
  });
}

describe('jambonz WebSocket API is authenticated by default (item 1)', () => {
  it('refuses to start without wsUsername/wsPassword, and says how to allow it for local development', () => {
    const err = configError(() =>
      loadConfig({
        env: {},
        overrides: {
          web: { publicUrl: 'https://bot.example.com' },
          telephony: { backend: 'jambonz', jambonz: { webhookSecret: SECRET } },
        },
      }),
    );
    expect(err.keys).toContain('telephony.jambonz.wsUsername');
    expect(err.message).toContain('insecureAllowUnauthenticatedWsApi');
    const insecure = loadConfig({
      env: {},
      overrides: {
        web: { publicUrl: 'https://bot.example.com' },
        telephony: { backend: 'jambonz', jambonz: { webhookSecret: SECRET, insecureAllowUnauthenticatedWsApi: true } },
      },
    });
    expect(insecure.telephony.jambonz?.insecureAllowUnauthenticatedWsApi).toBe(true);
  });

  describe('a running bot', () => {
    let s: SecurityApp;
    let started = 0;
    beforeAll(async () => {
      s = await startJambonzApp({ reconnectGraceMs: 300 });
      s.app.events.subscribe((e) => {
        if (e.type === 'call-started') started++;
      });
    });
    afterAll(async () => s?.stop());

    it('answers 20 unauthenticated session:new attempts with 401 at the upgrade', async () => {
      for (let i = 0; i < 20; i++) expect(await openWsApi(s.url, {})).toBe(401);
      expect(await openWsApi(s.url, { authorization: basic(WS_AUTH.user, 'wrong') })).toBe(401);
      expect(await metric(s.url, 'voicebot_jambonz_webhook_rejected_total', { reason: 'ws_api_auth' })).toBe(21);
    });

    it('a session whose audio never connects runs no bot and writes no ticket', async () => {
      const ws = await openWsApi(s.url, { authorization: basic(WS_AUTH.user, WS_AUTH.password) });
      if (typeof ws === 'number') throw new Error(`upgrade refused: ${ws}`);
      const acks: Array<{ type: string; msgid: string; data?: Array<{ verb: string }> }> = [];
      ws.on('message', (d: Buffer) => acks.push(JSON.parse(d.toString()) as (typeof acks)[number]));
      for (let i = 0; i < 5; i++) {
        ws.send(
          JSON.stringify({
            type: 'session:new',
            msgid: `m${i}`,
            call_sid: `forged-${i}`,
            data: { call_sid: `forged-${i}`, from: `+1555000000${i}`, to: '+15550000', direction: 'inbound' },
          }),
        );
      }
      await waitFor(() => acks.length === 5, 5000, 'five acks');
      expect(acks.map((a) => a.data?.[0]?.verb)).toEqual(['listen', 'listen', 'listen', 'listen', 'listen']);
      // the per-call audio socket never opens: after the grace the calls are over, having cost nothing
      await waitFor(
        async () => (await metric(s.url, 'voicebot_jambonz_calls_without_audio_total')) === 5,
        5000,
        'five calls ended without audio',
      );
      ws.close();
      expect(started).toBe(0);
      expect(await metric(s.url, 'voicebot_calls_admitted_active')).toBe(0);
      // no call record was ever made, so nothing can reach the outbox or the file sink
      expect(await metric(s.url, 'voicebot_dialog_calls_total')).toBe(0);
      const tickets = join(s.dir, 'tickets.jsonl');
      expect(existsSync(tickets) ? readFileSync(tickets, 'utf8') : '').not.toContain('+1555000000');
    });
  });
});

describe('URLs in verbs come from configuration, never from Host (item 5)', () => {
  it('refuses to start the jambonz backend without a public URL', () => {
    const err = configError(() =>
      loadConfig({
        env: {},
        overrides: {
          telephony: {
            backend: 'jambonz',
            jambonz: { webhookSecret: SECRET, insecureAllowUnauthenticatedWsApi: true },
          },
        },
      }),
    );
    expect(err.keys).toContain('telephony.jambonz.publicUrl');
  });

  it('a signed /call with Host: attacker.example gets no verbs; forwarded hosts do not steer the listen URL', async () => {
    const s = await startJambonzApp();
    try {
      const call = async (headers: Record<string, string>) => {
        const body = JSON.stringify({
          call_sid: `c-${Math.random()}`,
          from: '+15551112222',
          to: '+1555',
          direction: 'inbound',
        });
        const res = await fetch(`${s.url}/jambonz/call`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'jambonz-signature': signWebhook(SECRET, body), ...headers },
          body,
        });
        return { status: res.status, text: await res.text() };
      };
      // fetch cannot set Host: send the request with node:http instead
      const hostile = await new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ call_sid: 'c-hostile', from: '+1', to: '+2', direction: 'inbound' });
        const req = request(`${s.url}/jambonz/call`, {
          method: 'POST',
          headers: {
            host: 'attacker.example',
            'content-type': 'application/json',
            'jambonz-signature': signWebhook(SECRET, body),
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(hostile).toBe(421);
      const forwarded = await call({ 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https' });
      expect(forwarded.status).toBe(200);
      const verbs = JSON.parse(forwarded.text) as Array<{ verb: string; url?: string }>;
      expect(verbs[0]?.url).toBe(`ws://127.0.0.1:${s.port}/jambonz/audio`);
      expect(forwarded.text).not.toContain('attacker');
    } finally {
      await s.stop();
    }
  });
});
