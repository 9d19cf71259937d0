import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { waitFor } from '../helpers/wait.js';

export { waitFor };

/** waitFor with an async predicate (e.g. reading /metrics). */
export const waitForAsync = (predicate: () => Promise<boolean>, timeoutMs = 5000, what = 'condition') =>
  waitFor(predicate, timeoutMs, what, 20);

export function serverUrl(web: FastifyInstance, scheme: 'http' | 'ws' = 'http'): string {
  const addr = web.server.address() as AddressInfo;
  return `${scheme}://127.0.0.1:${addr.port}`;
}
