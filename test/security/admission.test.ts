import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import { startJambonzEmulator } from '../emulators/jambonz/index.js';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import {
  JAMBONZ_SECRET,
  JAMBONZ_WS_AUTH,
  metric,
  startJambonzApp,
  startSecurityApp,
  type SecurityApp,
} from './helpers.js';

/**
 * Item 2 (admission): at most telephony.maxConcurrentCalls calls per instance, whatever the backend; the next one is
 * refused at once in the backend's own terms, before anything is allocated for it, and counted.
 */
describe('admission control: browser test call', () => {
  let s: SecurityApp;
  beforeAll(async () => {
    s = await startSecurityApp({ telephony: { maxConcurrentCalls: 2 } });
  });
  afterAll(async () => s?.stop());

  const open = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/test-call/ws`);
    const first = once(ws, 'message', { signal: AbortSignal.timeout(10_000) });
    const closed = once(ws, 'close').then(([code]) => code as number);
    const [data] = (await first) as [Buffer];
    return { ws, first: JSON.parse(data.toString()) as { type: string; reason?: string }, closed };
  };

  it('refuses the call over the cap with WebSocket close 1013 and counts it', async () => {
    const a = await open();
    const b = await open();
    expect([a.first.type, b.first.type]).toEqual(['ready', 'ready']);
    const c = await open();
    expect(c.first).toEqual({ type: 'ended', reason: 'busy' });
    expect(await c.closed).toBe(1013);
    expect(await metric(s.url, 'voicebot_calls_refused_total', { backend: 'browser' })).toBe(1);
    // a place comes back when a call ends
    a.ws.close();
    await waitFor(async () => (await metric(s.url, 'voicebot_calls_admitted_active')) === 1, 10_000, 'release');
    const d = await open();
    expect(d.first.type).toBe('ready');
    b.ws.close();
    d.ws.close();
  });
});

describe('admission control: jambonz', () => {
  it('declines the call over the cap with sip:decline 503 (no listen, no audio socket)', async () => {
    const s = await startJambonzApp({}, { maxConcurrentCalls: 1 });
    const emu = await startJambonzEmulator({
      appUrl: `${s.url}/jambonz`,
      mode: 'webhook',
      webhookSecret: JAMBONZ_SECRET,
      wsApiAuth: JAMBONZ_WS_AUTH,
    });
    try {
      const first = await emu.placeCall({ from: '+15550000001', to: '+15550000' });
      await first.audioReady(10_000);
      const second = await emu.placeCall({ from: '+15550000002', to: '+15550000' });
      await second.done;
      expect(second.declined).toEqual({ status: 503, reason: 'Service Unavailable' });
      expect(second.listens).toBe(0);
      expect(await metric(s.url, 'voicebot_calls_refused_total', { backend: 'jambonz' })).toBe(1);
      await first.hangup();
      await waitFor(async () => (await metric(s.url, 'voicebot_calls_admitted_active')) === 0, 10_000, 'release');
      const third = await emu.placeCall({ from: '+15550000003', to: '+15550000' });
      await third.audioReady(10_000);
      expect(third.declined).toBeNull();
      await third.hangup();
    } finally {
      await emu.close();
      await s.stop();
    }
  });
});

describe('admission control: Asterisk', () => {
  let emu: AriEmulator;
  let s: SecurityApp;
  beforeAll(async () => {
    emu = await startAriEmulator();
    const rtpPortMin = await freePort();
    s = await startSecurityApp({
      telephony: {
        backend: 'asterisk',
        maxConcurrentCalls: 1,
        asterisk: {
          ...emu.ariConfig(),
          rtpHost: '127.0.0.1',
          rtpBindHost: '127.0.0.1',
          rtpPortMin,
          rtpPortMax: rtpPortMin + 3,
        },
      },
    });
    await emu.waitFor(() => emu.connectedApps().length > 0, 10_000, 'ARI connected');
  });
  afterAll(async () => {
    await s?.stop();
    await emu?.close();
  });

  it('hangs the call over the cap up before answering, with reason congestion: the caller gets SIP 503', async () => {
    const first = await emu.placeCall({ from: '+15550000001', to: '100' });
    await emu.waitFor(() => emu.requestsTo('POST', /\/answer$/).length === 1, 10_000, 'first call answered');
    const second = await emu.placeCall({ from: '+15550000002', to: '100' });
    expect(await second.ended).toBe('rejected: SIP 503');
    expect(emu.appHangups.find((h) => h.channelId === second.channelId)).toEqual({
      channelId: second.channelId,
      reason: 'congestion',
      cause: 34,
      sipStatus: 503,
    });
    // never answered: the refusal costs no media, no VAD, no ticket
    expect(emu.requestsTo('POST', new RegExp(`/channels/${second.channelId}/answer$`))).toEqual([]);
    expect(await metric(s.url, 'voicebot_calls_refused_total', { backend: 'asterisk' })).toBe(1);
    first.hangup();
    await waitFor(async () => (await metric(s.url, 'voicebot_calls_admitted_active')) === 0, 10_000, 'release');
  });
});
