/**
 * Calls an instance will not take (draining, at its cap) are left to the dialplan, never dropped (issue 18):
 *
 * - connection: outbound, per call: a draining instance refuses the websocket upgrade (503). Asterisk counts that as
 *   a failed attempt and opens a new connection `reconnect_interval` later (res_websocket_client.c
 *   ast_websocket_client_connect), which the balancer sends to another instance; after the last attempt Stasis()
 *   returns with STASISSTATUS=FAILED and the dialplan goes on (res/ari/ari_websockets.c, apps/app_stasis.c).
 * - inbound or persistent: the refused channel goes on in the dialplan with ARI `continue` at
 *   `telephony.asterisk.refusedCallGoto` instead of a hangup with congestion.
 */
import { once } from 'node:events';
import Fastify from 'fastify';
import websocket from '@fastify/websocket';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { Admission } from '../../src/core/admission.js';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createAsteriskBackend, type AsteriskBackend } from '../../src/telephony/asterisk/backend.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { startAriEmulator, StasisFailed, type AriEmulator } from '../emulators/ari/index.js';
import { perCallThrough, startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { asteriskTestConfig, MemorySessions, tone, waitFor } from './helpers.js';

interface Bot {
  backend: AsteriskBackend;
  admission: Admission;
  legs: CallLeg[];
  port: number;
  close(): Promise<void>;
}

let emu: AriEmulator;
let proxy: RoundRobinProxy | undefined;
const bots: Bot[] = [];

afterEach(async () => {
  for (const b of bots.splice(0)) await b.close();
  await proxy?.close();
  proxy = undefined;
  await emu?.close();
});

/** A backend that greets each caller with a tone and waits for the hangup; `admission.close()` is the drain. */
async function startBot(asterisk: Record<string, unknown> = {}, maxCalls = 10): Promise<Bot> {
  const config = asteriskTestConfig(emu, { eventPingMs: 1000, ...asterisk });
  const web = Fastify();
  await web.register(websocket);
  const metrics = createMetrics(false);
  const admission = new Admission(maxCalls, metrics);
  const backend = createAsteriskBackend(config, {
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    metrics,
    sessions: new MemorySessions(),
    events: new CallEventBus(),
    admission,
    web,
  });
  const url = await web.listen({ host: '127.0.0.1', port: 0 });
  const legs: CallLeg[] = [];
  await backend.start(async (leg) => {
    legs.push(leg);
    leg.sendAudio(tone(200, 600));
    await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
  });
  const bot: Bot = {
    backend,
    admission,
    legs,
    port: Number(new URL(url).port),
    close: async () => {
      await backend.stop();
      await web.close();
    },
  };
  bots.push(bot);
  return bot;
}

const perCall = { connection: 'outbound', url: undefined } as const;

async function perCallThroughProxy(targets: Bot[], attempts = 3): Promise<void> {
  proxy = await startRoundRobinProxy(targets.map((b) => b.port));
  await perCallThrough(emu, proxy, { reconnectIntervalMs: 50, reconnectAttempts: attempts, perCallCloseMs: 200 });
}

describe('connection: outbound per call: a draining instance refuses the upgrade', () => {
  it('Asterisk retries through the balancer: every call reaches the other instance, none gets congestion', async () => {
    emu = await startAriEmulator();
    const draining = await startBot(perCall);
    const serving = await startBot(perCall);
    await perCallThroughProxy([draining, serving]);
    draining.admission.close();

    const callers = [];
    for (let i = 0; i < 4; i++) callers.push(await emu.placeCall({ from: `+1555000${i}` }));
    for (const c of callers) await waitFor(() => c.audibleMs() >= 150, 3000, 'bot audio at the caller');
    expect(serving.legs).toHaveLength(4);
    expect(draining.legs).toHaveLength(0);
    // the draining instance was asked (round robin) and said no before any call reached it
    expect(proxy!.perTarget[0]).toBeGreaterThanOrEqual(2);
    expect(emu.appHangups).toEqual([]);
    expect(emu.outboundConnections.map((c) => c.app).sort()).toEqual(
      callers.map((c) => `voicebot:${c.channelName}`).sort(),
    );
    for (const c of callers) c.hangup();
    await waitFor(() => emu.channels.size === 0, 3000, 'released');
  });

  it('a drain that begins between the upgrade and the StasisStart: the call is served (the upgrade admitted it)', async () => {
    emu = await startAriEmulator();
    const bot = await startBot(perCall);
    await perCallThroughProxy([bot]);
    // the websocket is up (Asterisk counts the call as connected: no retry, no fallback) when the drain begins
    const caller = await emu.placeCall({ from: '+15550101', onConnected: () => bot.admission.close() });
    expect(bot.admission.closed).toBe(true);
    await waitFor(() => caller.audibleMs() >= 150, 3000, 'bot audio at the caller');
    expect(bot.legs).toHaveLength(1);
    expect(emu.appHangups).toEqual([]);
    expect(bot.admission.active).toBe(1); // the drain waits for it like any running call
    // later calls are refused at the upgrade, as before
    const next = await emu.placeCall({ from: '+15550102' }).then(
      () => 'connected',
      (err: unknown) => (err instanceof StasisFailed ? 'failed' : String(err)),
    );
    expect(next).toBe('failed');
    caller.hangup();
    await waitFor(() => emu.channels.size === 0 && bot.admission.active === 0, 3000, 'released, its place given back');
  });

  it('every instance draining: after its attempts the call goes on in the dialplan (STASISSTATUS=FAILED)', async () => {
    emu = await startAriEmulator();
    const a = await startBot(perCall);
    const b = await startBot(perCall);
    await perCallThroughProxy([a, b]);
    a.admission.close();
    b.admission.close();
    await expect(emu.placeCall()).rejects.toBeInstanceOf(StasisFailed);
    expect(proxy!.perTarget).toEqual([2, 1]); // reconnect_attempts (3) connections, round robin
    expect(a.legs.length + b.legs.length).toBe(0);
    expect(emu.appHangups).toEqual([]);
  });
});

describe('inbound: a refused channel goes on in the dialplan with ARI continue (refusedCallGoto)', () => {
  it('draining: the caller continues at bots-down,s,1, unanswered and not hung up', async () => {
    emu = await startAriEmulator();
    const bot = await startBot({ refusedCallGoto: 'bots-down,s,1' });
    bot.admission.close();
    const caller = await emu.placeCall({ from: '+15550100' });
    await waitFor(() => caller.inDialplan !== null, 3000, 'the caller in the dialplan');
    expect(caller.inDialplan).toEqual({ context: 'bots-down', exten: 's', priority: 1 });
    expect(caller.isEnded).toBe(false);
    expect(emu.appHangups).toEqual([]);
    expect(emu.requestsTo('POST', /\/continue$/)[0]).toMatchObject({
      status: 204,
      query: { context: 'bots-down', extension: 's', priority: '1' },
    });
    expect(emu.requestsTo('POST', /\/answer$/)).toHaveLength(0);
    expect(bot.legs).toHaveLength(0);
    caller.hangup();
    await waitFor(() => emu.channels.size === 0, 3000, 'released');
  });

  it('at telephony.maxConcurrentCalls too; unset, a refused call is hung up with congestion (SIP 503)', async () => {
    emu = await startAriEmulator();
    const bot = await startBot({ refusedCallGoto: 'overflow,100,2' }, 1);
    const first = await emu.placeCall();
    await waitFor(() => first.audibleMs() >= 150, 3000, 'first call served');
    const second = await emu.placeCall();
    await waitFor(() => second.inDialplan !== null, 3000, 'the second caller in the dialplan');
    expect(second.inDialplan).toEqual({ context: 'overflow', exten: '100', priority: 2 });
    first.hangup();
    second.hangup();
    await bot.close();
    bots.length = 0;

    const plain = await startBot({});
    plain.admission.close();
    const refused = await emu.placeCall();
    expect(await refused.ended).toBe('rejected: SIP 503');
    expect(refused.inDialplan).toBeNull();
    expect(emu.appHangups.at(-1)).toMatchObject({ reason: 'congestion', sipStatus: 503 });
  });

  it('a malformed refusedCallGoto stops start-up naming the key', () => {
    expect(() => asteriskTestConfig(emu, { refusedCallGoto: 'bots-down' })).toThrow(/refusedCallGoto/);
  });
});

describe('the emulator continues a channel as resource_channels.c does', () => {
  it('404 unknown, 409 not in Stasis, 412 Down; context alone → s,1; no arguments → the next priority', async () => {
    emu = await startAriEmulator();
    const auth = `Basic ${Buffer.from(`${emu.username}:${emu.password}`).toString('base64')}`;
    // an app that is connected and does nothing: calls stay in Stasis, ringing
    const app = new WebSocket(`${emu.url.replace('http', 'ws')}/ari/events?app=voicebot`, {
      headers: { authorization: auth },
    });
    await once(app, 'open');
    const post = async (path: string) =>
      (await fetch(`${emu.url}/ari${path}`, { method: 'POST', headers: { authorization: auth } })).status;
    try {
      expect(await post('/channels/nope/continue')).toBe(404);
      const a = await emu.placeCall({ to: '100' });
      expect(await post(`/channels/${a.channelId}/continue`)).toBe(204);
      expect(a.inDialplan).toEqual({ context: 'from-phones', exten: '100', priority: 2 });
      expect(await post(`/channels/${a.channelId}/continue`)).toBe(409);
      const b = await emu.placeCall();
      expect(await post(`/channels/${b.channelId}/continue?context=bots-down`)).toBe(204);
      expect(b.inDialplan).toEqual({ context: 'bots-down', exten: 's', priority: 1 });
      expect(await post('/channels/create?endpoint=PJSIP/agent&app=voicebot&channelId=agent-1')).toBe(200);
      await waitFor(() => emu.channels.get('agent-1')?.inStasis === true, 2000, 'StasisStart of the created channel');
      expect(await post('/channels/agent-1/continue')).toBe(412);
      for (const p of [a, b]) p.hangup();
    } finally {
      app.close();
    }
  });
});
