/**
 * An HTTP load balancer on loopback in front of several bot instances, as nginx or HAProxy in HTTP mode: each request
 * and each WebSocket upgrade goes to the next target in turn; a target that refuses the connection (a dead instance)
 * is skipped for the next one (nginx `proxy_next_upstream error`). The client's keep-alive connection to the balancer
 * is not tied to any one target, so a dead instance costs the next request nothing.
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';

export interface HttpBalancer {
  port: number;
  url: string;
  /** requests and upgrades handed to each target so far, by target index */
  perTarget: number[];
  /** the next request or upgrade goes to target `index` (then on in turn from there) */
  aim(index: number): void;
  close(): Promise<void>;
}

/** `targets` may still be empty here and filled in later (instances that need the balancer's URL first). */
export async function startHttpBalancer(targets: number[]): Promise<HttpBalancer> {
  const perTarget: number[] = [];
  const open = new Set<Socket>();
  let next = 0;
  const pick = () => {
    const index = next++ % targets.length;
    return { index, port: targets[index]! };
  };
  const counted = (index: number) => (perTarget[index] = (perTarget[index] ?? 0) + 1);
  const refused = (err: unknown) => ['ECONNREFUSED', 'ECONNRESET'].includes((err as { code?: string }).code ?? '');

  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      for (let tries = targets.length; tries > 0; tries--) {
        const { index, port } = pick();
        try {
          const response = await forward(port, req, body);
          counted(index);
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(res);
          return;
        } catch (err) {
          if (!refused(err)) break;
        }
      }
      res.writeHead(502).end();
    })().catch(() => res.destroy());
  });

  server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    const preamble = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), head]);
    const dial = (tries: number): void => {
      const { index, port } = pick();
      const upstream = connect(port, '127.0.0.1');
      let connected = false;
      upstream.once('error', (err) => {
        if (!connected && tries > 1 && refused(err) && !client.destroyed) return dial(tries - 1);
        client.destroy();
      });
      upstream.once('connect', () => {
        connected = true;
        counted(index);
        open.add(upstream);
        upstream.on('close', () => {
          open.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        upstream.write(preamble);
        client.pipe(upstream).pipe(client);
      });
    };
    dial(targets.length);
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    perTarget,
    aim: (index) => void (next = index),
    close: async () => {
      for (const s of open) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One request to one target, with the body already read (so a refused target can be retried on the next). */
function forward(port: number, req: IncomingMessage, body: Buffer): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const upstream = request({
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent: false,
    });
    upstream.once('response', resolve);
    upstream.once('error', reject);
    upstream.end(body);
  });
}
