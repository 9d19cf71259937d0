import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { waitFor as sharedWaitFor } from '../helpers/wait.js';

/** Polls `predicate` until true, failing after `timeoutMs` (poll every 1 ms: the cores are shared). */
export const waitFor = (predicate: () => boolean, timeoutMs = 2000, what = 'condition') =>
  sharedWaitFor(predicate, timeoutMs, what, 1);

export async function udpPeer(): Promise<{
  socket: Socket;
  port: number;
  received: Array<{ msg: Buffer; port: number }>;
}> {
  const socket = createSocket('udp4');
  const received: Array<{ msg: Buffer; port: number }> = [];
  socket.on('message', (msg, rinfo) => received.push({ msg, port: rinfo.port }));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, received };
}

export function sendTo(socket: Socket, buf: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(buf, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
  );
}

export function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}
