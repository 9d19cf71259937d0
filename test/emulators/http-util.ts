import type { IncomingMessage, ServerResponse } from 'node:http';

/** Small helpers shared by the CRM emulators (real HTTP servers on 127.0.0.1, port 0). */
export async function readBody(req: IncomingMessage, limit = 60 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

/** Deterministic PRNG so a fault run can be replayed with the same seed (the one the simulated echo line uses). */
export { mulberry32 } from '../../src/core/random.js';

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
