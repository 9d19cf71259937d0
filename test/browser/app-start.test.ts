import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { waitFor, waitForAsync } from './helpers.js';
import { STUB_WHISPER, VAD_MODEL } from '../helpers/fixtures.js';

/** A port that was free a moment ago (the config schema has no "any port"). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const metricValue = async (base: string, name: string): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : Number.NaN;
};

describe('voicebot start with the default (browser) backend', () => {
  let dir: string;
  let app: RunningApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'voicebot-app-'));
    const config = loadConfig({
      env: {},
      overrides: {
        web: { port: await freePort() },
        speech: {
          vad: { modelPath: VAD_MODEL },
          asr: { whisperCpp: { modelPath: STUB_WHISPER } },
        },
        crm: { sinks: [{ type: 'file', path: join(dir, 'tickets.jsonl') }], outbox: { dir: join(dir, 'outbox') } },
      },
    });
    expect(config.telephony.backend).toBe('browser');
    app = await startApp(config, {
      logger: createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false }),
    });
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the test page and a call over its socket greets with real speech; closing the socket ends it', async () => {
    const page = await (await fetch(`${app.url}/`)).text();
    expect(page).toContain('Call the bot');

    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/test-call/ws`);
    let audioBytes = 0;
    const states: string[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) audioBytes += data.length;
      else {
        const msg = JSON.parse(data.toString()) as { type: string; event?: { type: string; to?: string } };
        if (msg.event?.type === 'state' && msg.event.to) states.push(msg.event.to);
      }
    });
    await waitFor(() => audioBytes >= 16000, 15_000, 'half a second of greeting audio (espeak-ng)');
    expect(states[0]).toBe('greeting');
    expect(await metricValue(app.url, 'voicebot_browser_calls_active')).toBe(1);

    ws.close();
    await waitForAsync(
      async () => (await metricValue(app.url, 'voicebot_browser_calls_active')) === 0,
      10_000,
      'the call to end on the server',
    );
    await waitFor(() => states.includes('ended') || ws.readyState === ws.CLOSED, 2000, 'socket closed');
  });
});
