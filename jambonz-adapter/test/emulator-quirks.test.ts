import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startJambonzEmulator, type JambonzEmulator } from '../../test/emulators/jambonz/index.js';
import { waitFor } from './harness.js';

/**
 * The jambonz emulator is as strict as jambonz where the adapter never goes (so no adapter test can show it): a bare
 * app plays the bot here.
 */
let server: Server | undefined;
let emu: JambonzEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = emu = undefined;
});

interface BareApp {
  base: string;
  control: { type: string; call_sid?: string; data?: Record<string, unknown>; socket: WebSocket }[];
  audioFrames: Buffer[];
  audioSockets: WebSocket[];
  /** close codes of the WS API sockets, in order */
  controlCloses: number[];
}

/** A WS API app that answers session:new with one listen verb (metadata as given) to its own audio endpoint. */
async function bareApp(
  metadata: Record<string, string> = {},
  reconnectAck?: unknown[],
  opts: { holdReconnectAck?: boolean } = {},
): Promise<BareApp> {
  server = createServer((_req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('[]'));
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => [...p][0] ?? false });
  const app: BareApp = { base: '', control: [], audioFrames: [], audioSockets: [], controlCloses: [] };
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (req.url === '/audio') {
        app.audioSockets.push(ws);
        return ws.on('message', (m: Buffer) => app.audioFrames.push(m));
      }
      ws.on('close', (code: number) => app.controlCloses.push(code));
      ws.on('message', (m: Buffer) => {
        const msg = JSON.parse(m.toString()) as {
          type: string;
          msgid?: string;
          call_sid?: string;
          data?: Record<string, unknown>;
        };
        app.control.push({ type: msg.type, call_sid: msg.call_sid, data: msg.data, socket: ws });
        if (msg.type === 'session:new') {
          const listen = { verb: 'listen', url: `${app.base.replace(/^http/, 'ws')}/audio`, metadata };
          ws.send(JSON.stringify({ type: 'ack', msgid: msg.msgid, data: [listen] }));
        } else if (msg.type === 'session:reconnect' && opts.holdReconnectAck) {
          // the ack never comes (the app waits for something)
        } else if (msg.type === 'session:reconnect' && reconnectAck) {
          ws.send(JSON.stringify({ type: 'ack', msgid: msg.msgid, data: reconnectAck }));
        } else if (msg.msgid) ws.send(JSON.stringify({ type: 'ack', msgid: msg.msgid }));
      });
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  app.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return app;
}

describe('jambonz emulator strictness', () => {
  it('a WS API frame over 24 KiB from the app closes the socket with 1009; jambonz reconnects (session:reconnect)', async () => {
    const app = await bareApp();
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'ws', webhookSecret: 's' });
    const call = await emu.placeCall({ from: '1', to: '2' });
    await call.audioReady();
    const first = app.control[0]!.socket;
    const closed = once(first, 'close');
    first.send(
      JSON.stringify({
        type: 'command',
        command: 'redirect',
        data: [{ verb: 'pause', length: 1 }],
        pad: 'x'.repeat(24 * 1024),
      }),
    );
    const [code] = (await closed) as [number];
    expect(code).toBe(1009);
    await waitFor(() => app.control.some((m) => m.type === 'session:reconnect'), 3000, 'session:reconnect');
    expect(app.control.find((m) => m.type === 'session:reconnect')?.call_sid).toBe(call.callSid);
    expect(call.controlReconnects).toBe(1);
    expect(call.commands).toEqual([]);
  });

  it('a WS API socket that drops is re-opened after 500 ms with session:reconnect (session:new data); verbs in its ack are ignored', async () => {
    const app = await bareApp({}, [{ verb: 'hangup' }]);
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'ws', webhookSecret: 's' });
    const call = await emu.placeCall({ from: '+15551230009', to: '2' });
    await call.audioReady();
    const droppedAt = performance.now();
    app.control[0]!.socket.terminate(); // the app's process dies: no close frame
    await waitFor(() => app.control.some((m) => m.type === 'session:reconnect'), 5000, 'session:reconnect');
    expect(performance.now() - droppedAt).toBeGreaterThanOrEqual(450); // ws-requestor.js backoffMs
    const reconnect = app.control.find((m) => m.type === 'session:reconnect')!;
    expect(reconnect.call_sid).toBe(call.callSid);
    expect(reconnect.data).toMatchObject({ call_sid: call.callSid, from: '+15551230009' });
    await waitFor(() => call.controlReconnects === 1, 2000, 'reconnect acked');
    expect(call.ended).toBeNull(); // the hangup verb in the ack was not run
    expect(call.audioOpen).toBe(true); // the running listen went on
  });

  it('WS API: a caller who hangs up while the socket is down: the status opens a socket of its own and goes out alone', async () => {
    const app = await bareApp();
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'ws', webhookSecret: 's' });
    const call = await emu.placeCall({ from: '+15551230010', to: '2' });
    await call.audioReady();
    app.control[0]!.socket.terminate(); // the app's process dies
    await waitFor(() => !call.controlConnected, 2000, 'jambonz saw the drop');
    await call.hangup(); // before its 500 ms reconnect: the status connects, the session is closed meanwhile
    await waitFor(() => app.control.some((m) => m.type === 'call:status'), 3000, 'the status');
    const status = app.control.find((m) => m.type === 'call:status')!;
    expect(status.call_sid).toBe(call.callSid);
    expect(status.data).toMatchObject({ call_status: 'completed', from: '+15551230010' });
    expect(status.socket).not.toBe(app.control[0]!.socket); // a new socket …
    expect(app.control.filter((m) => m.type === 'session:reconnect')).toEqual([]); // … with no session:reconnect
    expect(status.socket.readyState).toBe(status.socket.OPEN); // and nobody closes it
  });

  it('WS API: a caller who hangs up while session:reconnect waits for its ack: the socket closes (1000), the status is lost', async () => {
    const app = await bareApp({}, undefined, { holdReconnectAck: true });
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'ws', webhookSecret: 's' });
    const call = await emu.placeCall({ from: '1', to: '2' });
    await call.audioReady();
    app.control[0]!.socket.terminate();
    await waitFor(() => app.control.some((m) => m.type === 'session:reconnect'), 3000, 'session:reconnect');
    await call.hangup();
    await waitFor(() => app.controlCloses.length === 2, 2000, 'the reconnected socket closed');
    expect(app.controlCloses[1]).toBe(1000);
    expect(app.control.filter((m) => m.type === 'call:status')).toEqual([]);
  });

  it('WS API: when the verbs run out, the call waits for the next command instead of hanging up', async () => {
    const app = await bareApp();
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'ws', webhookSecret: 's' });
    const call = await emu.placeCall({ from: '1', to: '2' });
    await call.audioReady();
    app.audioSockets[0]!.close(); // the listen ends; no actionHook, no more verbs
    await waitFor(() => !call.audioOpen, 2000, 'listen ended');
    expect(call.ended).toBeNull();
    const listen = { verb: 'listen', url: `${app.base.replace(/^http/, 'ws')}/audio` };
    app.control[0]!.socket.send(JSON.stringify({ type: 'command', command: 'redirect', data: [listen] }));
    await waitFor(() => call.listens === 2 && call.audioOpen, 3000, 'the redirected listen');
    expect(call.ended).toBeNull();
  });

  it('listen metadata over 8 KiB reaches the app cut (and no longer parses)', async () => {
    const app = await bareApp({ big: 'y'.repeat(9000) });
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'ws', webhookSecret: 's' });
    const call = await emu.placeCall({ from: '1', to: '2' });
    await call.audioReady();
    await waitFor(() => app.audioFrames.length > 0, 3000, 'metadata frame');
    expect(app.audioFrames[0]!.length).toBeLessThan(8192);
    expect(() => JSON.parse(app.audioFrames[0]!.toString()) as unknown).toThrow();
  });

  it('a call webhook answered with 201 (not 200/202/204) is a failed webhook', async () => {
    const app = await bareApp();
    emu = await startJambonzEmulator({ appUrl: app.base, mode: 'webhook', webhookSecret: 's' });
    await expect(emu.placeCall({ from: '1', to: '2' })).rejects.toThrow(/answered 201/);
  });
});
