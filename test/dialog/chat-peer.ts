import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { waitFor as sharedWaitFor } from '../helpers/wait.js';

export type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void;

/** A local OpenAI-compatible peer whose behaviour each test sets. */
export class ChatPeer {
  server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      this.requests.push({ path: req.url ?? '', headers: req.headers, body });
      this.handler(body, req, res);
    });
    // the client gave up (timeout / abort) before we answered
    res.on('close', () => {
      if (!res.writableEnded) this.abandoned++;
    });
  });
  requests: Array<{ path: string; headers: IncomingMessage['headers']; body: Record<string, unknown> }> = [];
  abandoned = 0;
  handler: Handler = () => {};
  pending: ServerResponse[] = [];
  get baseUrl() {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }
  answer(content: string, status = 200): Handler {
    return (_b, _r, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? JSON.stringify({ choices: [{ message: { role: 'assistant', content } }] }) : content);
    };
  }
  hang(): Handler {
    return (_b, _r, res) => void this.pending.push(res);
  }
  async listen(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }
  /** Drops hung answers and open connections, then closes. */
  async close(): Promise<void> {
    for (const res of this.pending) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** Wait on a condition with a bound (polls every 1 ms). */
export const waitFor = (predicate: () => boolean, timeoutMs = 5000) =>
  sharedWaitFor(predicate, timeoutMs, 'condition', 1);
export const waitForAsync = (predicate: () => Promise<boolean>, timeoutMs = 5000) =>
  sharedWaitFor(predicate, timeoutMs, 'condition', 1);
