import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** Poll `predicate` until it holds, bounded by `timeoutMs` (tests wait on conditions, never on sleeps). */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** waitFor with an async predicate (e.g. reading /metrics). */
export async function waitForAsync(
  predicate: () => Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function serverUrl(web: FastifyInstance, scheme: 'http' | 'ws' = 'http'): string {
  const addr = web.server.address() as AddressInfo;
  return `${scheme}://127.0.0.1:${addr.port}`;
}
