import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

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
}

/** Wait on an async condition with a bound. */
export async function waitForAsync(predicate: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error('waitForAsync: condition not met');
    await yieldToLoop();
  }
}

/** Wait on a condition with a bound (yields to the event loop between checks). */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('waitFor: condition not met');
    await yieldToLoop();
  }
}
