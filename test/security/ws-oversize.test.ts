import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WS_MAX_PAYLOAD } from '../../src/web/server.js';
import { waitFor } from '../helpers/wait.js';
import { metric, startSecurityApp, type SecurityApp } from './helpers.js';

/** Item 9: client-triggered input (a frame over the limit) is a counted warning, never an error with a stack. */
describe('a WebSocket frame over the limit (item 9)', () => {
  let s: SecurityApp;
  beforeAll(async () => {
    s = await startSecurityApp();
  });
  afterAll(async () => s?.stop());

  it('closes that socket with 1009, counts it, and logs one warning line without a stack', async () => {
    for (let i = 0; i < 5; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/test-call/ws`);
      await once(ws, 'message', { signal: AbortSignal.timeout(10_000) });
      const closed = once(ws, 'close', { signal: AbortSignal.timeout(10_000) });
      ws.send(Buffer.alloc(WS_MAX_PAYLOAD + 1));
      const [code] = (await closed) as [number];
      expect(code).toBe(1009);
    }
    await waitFor(
      async () => (await metric(s.url, 'voicebot_web_rejected_requests_total', { reason: 'ws_oversize' })) === 5,
      10_000,
      'oversize frames counted',
    );
    const errors = s.logs.filter((l) => Number(l.level) >= 50 || l.level === 'error');
    expect(errors).toEqual([]);
    expect(JSON.stringify(s.logs)).not.toMatch(/"stack"|at .*\.js:\d+/);
    const warnings = s.logs.filter((l) => l.msg === 'websocket closed');
    expect(warnings).toHaveLength(5); // one per socket
    expect(warnings[0]).toMatchObject({ kind: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', path: '/test-call/ws' });
  });
});
