import { createServer, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { AriClient, AriError } from '../../src/telephony/asterisk/ari-client.js';
import { AriEventStream } from '../../src/telephony/asterisk/ari-events.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { AriEvent } from '../../src/telephony/asterisk/ari-types.js';
import { waitFor } from './helpers.js';

type Handler = (path: string, res: ServerResponse) => void;

async function server(handler: Handler): Promise<{ server: Server; url: string }> {
  const s = createServer((req, res) => handler(req.url ?? '', res));
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const a = s.address() as { port: number };
  return { server: s, url: `http://127.0.0.1:${a.port}` };
}

describe('AriClient', () => {
  let srv: Server | null = null;
  afterEach(async () => {
    srv?.closeAllConnections();
    await new Promise((r) => srv?.close(r) ?? r(undefined));
    srv = null;
  });

  const client = (url: string, requestTimeoutMs = 2000) =>
    new AriClient({ url, username: 'u', password: 'p', app: 'voicebot', requestTimeoutMs });

  it('errors carry the HTTP status and ARI’s message', async () => {
    const s = await server((_p, res) =>
      res.writeHead(422, { 'content-type': 'application/json' }).end('{"message":"Channel not in Stasis application"}'),
    );
    srv = s.server;
    const err = await client(s.url)
      .addChannel('b', 'c')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AriError);
    expect(err).toMatchObject({ status: 422, ariMessage: 'Channel not in Stasis application', method: 'POST' });
  });

  it('times out a request that gets no answer, and honours the caller’s AbortSignal', async () => {
    const s = await server(() => undefined); // never answers
    srv = s.server;
    const started = performance.now();
    const err = await client(s.url, 150)
      .listChannels()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0 });
    expect((err as AriError).ariMessage).toMatch(/timed out after 150 ms/);
    expect(performance.now() - started).toBeLessThan(2000);
    const ac = new AbortController();
    const pending = client(s.url, 10_000)
      .listBridges(ac.signal)
      .catch((e: unknown) => e);
    ac.abort();
    expect(await pending).toMatchObject({ status: 0 });
  });

  it('rejects a reply of the wrong shape at the boundary', async () => {
    const s = await server((_p, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('[{"name":"no id"}]'),
    );
    srv = s.server;
    const err = await client(s.url)
      .listChannels()
      .catch((e: unknown) => e);
    expect((err as AriError).ariMessage).toMatch(/unexpected reply/);
  });

  it('sends credentials as basic auth; the events URL carries no credentials (they go in the upgrade header)', async () => {
    let auth = '';
    const s = await server((_p, res) => res.writeHead(204).end());
    s.server.on('request', (req) => (auth = req.headers.authorization ?? ''));
    srv = s.server;
    await client(s.url).answer('c1');
    expect(Buffer.from(auth.replace('Basic ', ''), 'base64').toString()).toBe('u:p');
    expect(client(s.url).eventsUrl()).toMatch(
      /^ws:\/\/127\.0\.0\.1:\d+\/ari\/events\?app=voicebot&subscribeAll=false$/,
    );
    expect(client(s.url).authHeaders()).toEqual({ authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
  });
});

describe('AriEventStream', () => {
  it('validates events, counts bad ones, ignores unknown types, reconnects with backoff after a drop', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    const invalid: string[] = [];
    const events: AriEvent[] = [];
    const connects: boolean[] = [];
    const clock = new FakeClock();
    const stream = new AriEventStream({
      url: `ws://127.0.0.1:${port}/ari/events`,
      logger: pino({ level: 'silent' }),
      reconnectMinMs: 2000,
      reconnectMaxMs: 50_000,
      onInvalid: (t) => invalid.push(t),
      clock,
      random: () => 0.5, // no jitter: the first retry is due exactly reconnectMinMs after the drop
    });
    stream.on('event', (e) => events.push(e));
    stream.on('connected', ({ reconnect }) => connects.push(reconnect));
    let drops = 0;
    stream.on('disconnected', () => drops++);
    wss.on('connection', (ws) => {
      ws.send('not json');
      ws.send(JSON.stringify({ type: 'ChannelVarset', variable: 'x' })); // unknown to us: ignored
      ws.send(JSON.stringify({ type: 'ChannelDtmfReceived', digit: 'X', channel: { id: 'c1' } })); // bad digit
      ws.send(JSON.stringify({ type: 'ChannelDtmfReceived', digit: '5', channel: { id: 'c1' } }));
    });
    await stream.start(AbortSignal.timeout(2000));
    await waitFor(() => events.length === 1, 2000, 'first event');
    expect(events[0]).toMatchObject({
      type: 'ChannelDtmfReceived',
      digit: '5',
      channel: { id: 'c1', state: 'Unknown' },
    });
    expect(invalid).toEqual(['not-json', 'ChannelDtmfReceived']);
    for (const ws of wss.clients) ws.terminate();
    await waitFor(() => drops === 1, 3000, 'drop noticed');
    expect(clock.pending).toBe(1); // the reconnect (the keep-alive ping stopped with the socket)
    clock.advance(1999);
    expect(connects).toEqual([false]); // not yet: backoff runs on the stream's clock
    expect(clock.pending).toBe(1);
    clock.advance(1);
    await waitFor(() => connects.length === 2, 3000, 'reconnect');
    expect(connects).toEqual([false, true]);
    await stream.stop();
    await new Promise((r) => wss.close(r));
  });
});
