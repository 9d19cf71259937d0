import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../helpers/wait.js';
import { startSecurityApp, type SecurityApp } from './helpers.js';

/** Item 8: idle and half-sent connections are closed, connections are capped, SSE subscribers are capped. */
describe('slow and idle connections (item 8)', () => {
  let s: SecurityApp;
  beforeAll(async () => {
    s = await startSecurityApp({
      web: {
        limits: { maxConnections: 50, idleTimeoutMs: 500, headersTimeoutMs: 600, requestTimeoutMs: 1000 },
        agentConsole: { maxStreams: 2 },
      },
    });
  });
  afterAll(async () => s?.stop());

  const open = async (): Promise<{ socket: Socket; closed: Promise<unknown> }> => {
    const socket = connect(s.port, '127.0.0.1');
    const closed = once(socket, 'close');
    socket.on('error', () => undefined);
    await Promise.race([once(socket, 'connect'), closed]);
    return { socket, closed };
  };

  it('200 idle TCP connections are all closed (over the cap at once, the rest after the idle time); a call survives', async () => {
    // a call in progress: its WebSocket is exempt from the idle timeout
    const call = new WebSocket(`ws://127.0.0.1:${s.port}/test-call/ws`);
    await once(call, 'message', { signal: AbortSignal.timeout(10_000) });
    const idle = await Promise.all(Array.from({ length: 200 }, open));
    let closed = 0;
    for (const c of idle) void c.closed.then(() => closed++);
    await waitFor(() => closed === 200, 10_000, 'every idle connection closed by the server');
    expect(call.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    call.close();
  });

  it('a client trickling its headers is cut off by the header timeout', async () => {
    const { socket, closed } = await open();
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // one byte every 100 ms keeps the socket from ever being idle
    const drip = setInterval(() => socket.write('X'), 100);
    await Promise.race([closed, once(socket, 'end')]).finally(() => clearInterval(drip));
    expect(reply.startsWith('HTTP/1.1 408 Request Timeout')).toBe(true);
  });

  it('caps live-update (SSE) subscribers of the agent console', async () => {
    const subscribe = () => fetch(`${s.url}/agent/events`, { signal: AbortSignal.timeout(10_000) });
    const a = await subscribe();
    const b = await subscribe();
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await subscribe();
    expect(c.status).toBe(503);
    await a.body?.cancel();
    await b.body?.cancel();
  });
});
