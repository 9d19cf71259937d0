/**
 * connection: outbound — Asterisk opens the ARI websocket to the bot (FACTS §1c), persistent or one per call, and
 * every ARI request goes over it as RESTRequest/RESTResponse. The emulator's HTTP side is refused throughout: a call
 * that works proves the bot never needs Asterisk's HTTP port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createAsteriskBackend, type AsteriskBackend } from '../../src/telephony/asterisk/backend.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { readWav } from '../../src/media/wav.js';
import {
  parseRestRequest,
  startAriEmulator,
  StasisFailed,
  type AriEmulator,
  type OutboundWebsocketConfig,
} from '../emulators/ari/index.js';
import { asteriskTestConfig, MemorySessions, tone, waitFor } from './helpers.js';

interface Bot {
  backend: AsteriskBackend;
  web: FastifyInstance;
  sessions: MemorySessions;
  /** ws://…/ari */
  uri: string;
}

let emu: AriEmulator;
const bots: Bot[] = [];

afterEach(async () => {
  for (const b of bots.splice(0)) {
    await b.backend.stop();
    await b.web.close();
  }
  await emu?.close();
});

async function startBot(onCall: (leg: CallLeg) => Promise<void>, asterisk: Record<string, unknown> = {}): Promise<Bot> {
  const config = asteriskTestConfig(emu, { connection: 'outbound', url: undefined, eventPingMs: 1000, ...asterisk });
  const web = Fastify();
  await web.register(websocket);
  const sessions = new MemorySessions();
  const backend = createAsteriskBackend(config, {
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    metrics: createMetrics(false),
    sessions,
    events: new CallEventBus(),
    web,
  });
  const url = await web.listen({ host: '127.0.0.1', port: 0 });
  await backend.start(onCall);
  const bot = { backend, web, sessions, uri: `${url.replace('http', 'ws')}/ari` };
  bots.push(bot);
  return bot;
}

function outbound(bot: Bot, over: Partial<OutboundWebsocketConfig> = {}): OutboundWebsocketConfig {
  return {
    uri: bot.uri,
    username: emu.username,
    password: emu.password,
    connectionType: 'per_call_config',
    reconnectIntervalMs: 50,
    reconnectAttempts: 2,
    perCallCloseMs: 300,
    ...over,
  };
}

/** websocket_client.conf per_call_config pointing at a bare websocket server (to see exactly what it receives). */
function perCallTo(server: WebSocketServer, reconnectIntervalMs: number): OutboundWebsocketConfig {
  return {
    uri: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ari`,
    username: emu.username,
    password: emu.password,
    connectionType: 'per_call_config',
    reconnectIntervalMs,
    reconnectAttempts: 4,
  };
}

/** A bot that plays a tone to each caller and waits for the hangup. */
const greeter = (legs: CallLeg[]) => async (leg: CallLeg) => {
  legs.push(leg);
  leg.sendAudio(tone(200, 600));
  await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
};

describe('Asterisk outbound websockets: per call', () => {
  it('each call opens its own socket (app voicebot:<channel>); its ARI requests go over it; it closes after StasisEnd', async () => {
    emu = await startAriEmulator();
    emu.refuseRest(true); // Asterisk's HTTP port unreachable from the bot
    const legs: CallLeg[] = [];
    const bot = await startBot(greeter(legs));
    await emu.outboundWebsocket(outbound(bot));

    const callers = [await emu.placeCall({ from: '+15550001' }), await emu.placeCall({ from: '+15550002' })];
    await waitFor(() => legs.length === 2, 3000, 'both calls at the bot');
    for (const c of callers) await waitFor(() => c.audibleMs() >= 150, 3000, 'bot audio at the caller');
    expect(emu.outboundConnections.map((c) => c.app)).toEqual(callers.map((c) => `voicebot:${c.channelName}`));
    expect(emu.outboundOpen).toBe(2);
    // answer, bridge, externalMedia, addChannel: all over the websockets, the media channel in the call's own app
    expect(emu.requests.length).toBeGreaterThanOrEqual(8);
    expect(emu.requests.every((r) => r.via === 'websocket' && r.status < 300)).toBe(true);
    expect(emu.restRefused).toBe(0);
    const media = emu.requestsTo('POST', /\/channels\/externalMedia$/).map((r) => r.query['app']);
    expect(media.sort()).toEqual(callers.map((c) => `voicebot:${c.channelName}`).sort());

    for (const c of callers) c.hangup();
    await waitFor(() => emu.outboundOpen === 0, 3000, 'per-call sockets closed after StasisEnd');
    expect(bot.backend.calls.size).toBe(0);
    expect(emu.channels.size).toBe(0);
    expect(emu.bridges.size).toBe(0);
    expect(bot.backend.ports.inUse).toBe(0);
  });

  it('wrong credentials: the upgrade is refused and the call continues in the dialplan', async () => {
    emu = await startAriEmulator();
    const legs: CallLeg[] = [];
    const bot = await startBot(greeter(legs));
    await emu.outboundWebsocket(outbound(bot, { password: 'wrong' }));
    await expect(emu.placeCall()).rejects.toBeInstanceOf(StasisFailed);
    expect(legs).toHaveLength(0);
  });

  it('a socket that drops mid-call lets the bot let go of the call; Asterisk reconnects it', async () => {
    emu = await startAriEmulator();
    const legs: CallLeg[] = [];
    const bot = await startBot(greeter(legs));
    await emu.outboundWebsocket(outbound(bot));
    const caller = await emu.placeCall();
    await waitFor(() => bot.backend.calls.get(caller.channelId)?.ready === true, 3000, 'call up');
    const call = bot.backend.calls.get(caller.channelId)!;
    emu.dropWebsockets();
    // the reopened socket may come back to this very bot, which then takes the call up again at once: watch the
    // first leg let go rather than the call count (it can be 0 for no time at all)
    await waitFor(() => call.detached, 3000, 'the bot let go of the call');
    await waitFor(() => emu.outboundConnections.some((c) => c.reconnect), 3000, 'Asterisk reconnected');
    expect(emu.channels.has(caller.channelId)).toBe(true); // the caller is still there, in Stasis
    caller.hangup();
  });
});

describe('Asterisk outbound websockets: persistent', () => {
  it('one socket for every call; REST over it; calls work with the HTTP port refused', async () => {
    emu = await startAriEmulator();
    emu.refuseRest(true);
    const legs: CallLeg[] = [];
    const bot = await startBot(greeter(legs));
    await emu.outboundWebsocket(outbound(bot, { connectionType: 'persistent' }));
    await waitFor(() => bot.backend.resyncs >= 1, 3000, 'resync over the websocket');
    const a = await emu.placeCall();
    const b = await emu.placeCall();
    await waitFor(() => legs.length === 2, 3000, 'both calls');
    await waitFor(() => a.audibleMs() >= 150 && b.audibleMs() >= 150, 3000, 'audio');
    expect(emu.outboundConnections).toEqual([{ app: 'voicebot', reconnect: false }]);
    expect(emu.requests.every((r) => r.via === 'websocket')).toBe(true);
    expect(emu.requestsTo('GET', /\/ari\/channels$/).length).toBeGreaterThanOrEqual(1); // the resync
    a.hangup();
    b.hangup();
    await waitFor(() => bot.backend.calls.size === 0 && emu.channels.size === 0, 3000, 'released');
    expect(emu.bridges.size).toBe(0);
  });
});

describe('the emulator reconnects a dropped outbound socket as res/ari/ari_websockets.c does', () => {
  it('at once; the new connection gets the events queued meanwhile, then ApplicationRegistered, never StasisStart again', async () => {
    emu = await startAriEmulator();
    // a bare websocket server as the far end, to see exactly what each connection receives
    const received: string[][] = [];
    let refuse = 0;
    let attempts = 0;
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      handleProtocols: (protocols) => (protocols.has('ari') ? 'ari' : false),
      verifyClient: (_info, done) => {
        attempts++;
        if (refuse > 0) return void (refuse--, done(false, 503));
        done(true);
      },
    });
    await once(server, 'listening');
    const sockets: WebSocket[] = [];
    server.on('connection', (ws) => {
      const mine: string[] = [];
      received.push(mine);
      sockets.push(ws);
      ws.on('message', (data) => mine.push(String(JSON.parse(String(data)).type)));
    });
    try {
      await emu.outboundWebsocket(perCallTo(server, 1000));
      const caller = await emu.placeCall();
      await waitFor(() => received[0]?.includes('StasisStart') === true, 2000, 'first connection');
      expect(received[0]).toEqual(['ApplicationRegistered', 'StasisStart']);
      refuse = 1; // the first reconnect attempt is refused: the next comes reconnect_interval later
      const droppedAt = performance.now();
      sockets[0]!.terminate();
      await waitFor(() => attempts === 2, 2000, 'the first reconnect attempt, at once');
      expect(performance.now() - droppedAt).toBeLessThan(500);
      caller.dtmf('5'); // while no socket is up: queued for the next one, not lost
      await waitFor(() => received.length === 2 && received[1]!.length >= 2, 3000, 'reconnected');
      expect(performance.now() - droppedAt).toBeGreaterThanOrEqual(950); // one refused attempt, one interval
      expect(received[1]).toEqual(['ChannelDtmfReceived', 'ApplicationRegistered']);
      expect(emu.outboundConnections.map((c) => c.reconnect)).toEqual([false, true]);
      expect(emu.lostEvents).toBe(0);
      caller.hangup();
    } finally {
      for (const ws of sockets) ws.terminate();
      server.close();
    }
  });
});

describe('a bridge recording outlives the ARI connection that started it', () => {
  it('it goes on while a per-call socket is down; the next socket stops it by name and gets RecordingFinished', async () => {
    // res/ari/resource_bridges.c ast_ari_bridges_record: a Recorder channel of Asterisk's own, driven by a control
    // thread of its own, records the bridge; nothing ties it to the websocket that asked for it
    emu = await startAriEmulator();
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      handleProtocols: (protocols) => (protocols.has('ari') ? 'ari' : false),
    });
    await once(server, 'listening');
    const sockets: Array<{ ws: WebSocket; events: Array<Record<string, unknown>> }> = [];
    server.on('connection', (ws) => {
      const events: Array<Record<string, unknown>> = [];
      sockets.push({ ws, events });
      ws.on('message', (data) => events.push(JSON.parse(String(data)) as Record<string, unknown>));
    });
    let n = 0;
    /** one RESTRequest over socket `i`; resolves with its status */
    const rest = async (i: number, method: string, uri: string): Promise<number> => {
      const id = `r${++n}`;
      const { ws, events } = sockets[i]!;
      ws.send(JSON.stringify({ type: 'RESTRequest', request_id: id, method, uri }));
      await waitFor(() => events.some((e) => e.request_id === id), 5000, uri);
      return events.find((e) => e.request_id === id)!.status_code as number;
    };
    try {
      await emu.outboundWebsocket(perCallTo(server, 100));
      const caller = await emu.placeCall();
      await waitFor(() => sockets[0]?.events.some((e) => e.type === 'StasisStart') === true, 5000, 'StasisStart');
      expect(await rest(0, 'POST', 'channels/' + caller.channelId + '/answer')).toBe(204);
      expect(await rest(0, 'POST', 'bridges?bridgeId=b1&type=mixing')).toBe(200);
      expect(await rest(0, 'POST', `bridges/b1/addChannel?channel=${caller.channelId}`)).toBe(204);
      expect(await rest(0, 'POST', 'bridges/b1/record?name=rec1&format=wav')).toBe(200);
      sockets[0]!.ws.terminate();
      await caller.sendPcm(tone(300), { speed: 0 }); // while no socket is up
      // the reopened socket is Asterisk's once it said ApplicationRegistered (after the queued events)
      const registered = () => sockets[1]?.events.some((e) => e.type === 'ApplicationRegistered') === true;
      await waitFor(registered, 5000, 'the socket reopened');
      expect(await rest(1, 'POST', 'recordings/live/rec1/stop')).toBe(204);
      await waitFor(() => sockets[1]!.events.some((e) => e.type === 'RecordingFinished'), 5000, 'RecordingFinished');
      // the file cannot come over the websocket (send_rest_response): the bot fetches it over HTTP
      expect(await rest(1, 'GET', 'recordings/stored/rec1/file')).toBe(406);
      const wav = readWav(emu.stored.get('rec1')!);
      expect(wav.samples.filter((s) => Math.abs(s) > 4000).length).toBeGreaterThan(0.6 * 300 * 8);
      caller.hangup();
    } finally {
      for (const { ws } of sockets) ws.terminate();
      server.close();
    }
  });
});

describe('the emulator is as strict as ari_websocket_requests.c', () => {
  const req = (m: Record<string, unknown>) => parseRestRequest({ type: 'RESTRequest', method: 'POST', ...m });
  it('a leading slash does not route; a body needs a content type; the uri query string is parsed', () => {
    expect(req({ uri: '/channels/1/answer' })).toMatchObject({ ok: false, status: 404 });
    expect(req({ uri: 'channels/1/answer/' })).toMatchObject({ ok: false, status: 404 });
    expect(req({ uri: 'channels', message_body: '{}' })).toMatchObject({ ok: false, status: 400 });
    expect(req({ uri: '' })).toMatchObject({ ok: false, status: 400 });
    expect(req({ uri: 'channels', method: 'FETCH' })).toMatchObject({ ok: false, status: 400 });
    expect(parseRestRequest({ type: 'Other', uri: 'x', method: 'GET' })).toMatchObject({ ok: false, status: 400 });
    const ok = req({ uri: 'bridges?type=mixing', content_type: 'application/json', message_body: '{"a":1}' });
    expect(ok).toMatchObject({ ok: true, path: 'bridges', body: { a: 1 } });
    expect(ok.ok && ok.query.get('type')).toBe('mixing');
  });
});
