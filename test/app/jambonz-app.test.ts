import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startJambonzEmulator, type JambonzEmulator } from '../emulators/jambonz/index.js';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'app-test-webhook-secret';
const WS_AUTH = { username: 'jambonz', password: 'app-test-ws-password' };
const audibleSamples = (pcm: Int16Array) => pcm.reduce((n, s) => n + (Math.abs(s) > 500 ? 1 : 0), 0);

/** The whole app as `voicebot start` builds it with telephony.backend = jambonz, driven by the jambonz emulator. */
describe.each(['webhook', 'ws'] as const)('app with the jambonz backend (%s)', (mode) => {
  let app: RunningApp;
  let emu: JambonzEmulator;
  const dir = mkdtempSync(join(tmpdir(), `vb-app-jambonz-${mode}-`));
  const tickets = join(dir, 'tickets.jsonl');

  beforeAll(async () => {
    // jambonz needs the bot's public URL up front (verbs are never built from a request's Host)
    const port = await freePort();
    const config = loadConfig({
      env: {},
      overrides: {
        web: { port, publicUrl: `http://127.0.0.1:${port}` },
        telephony: {
          backend: 'jambonz',
          jambonz: { webhookSecret: SECRET, wsUsername: WS_AUTH.username, wsPassword: WS_AUTH.password },
        },
        speech: { asr: { whisperCpp: { modelPath: 'test/fixtures/models/for-tests-ggml-tiny.en.bin' } } },
        crm: { sinks: [{ type: 'file', path: tickets }], outbox: { dir: join(dir, 'outbox') } },
      },
    });
    app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
    emu = await startJambonzEmulator({
      appUrl: `${app.url}/jambonz`,
      mode,
      webhookSecret: SECRET,
      wsApiAuth: WS_AUTH,
    });
  });

  afterAll(async () => {
    await emu?.close();
    await app?.stop();
  });

  it('greets the caller over listen audio and files a ticket after hangup', async () => {
    let ended = false;
    const unsubscribe = app.events.subscribe((e) => {
      if (e.type === 'call-ended') ended = true;
    });
    const call = await emu.placeCall({ from: '+15551230002', to: '+15550000' });
    await call.audioReady(10_000);
    await waitFor(() => audibleSamples(call.heard()) > 4000, 15_000, 'greeting audio');
    await call.hangup();
    await waitFor(() => ended, 15_000, 'call-ended');
    unsubscribe();
    const filed = () => existsSync(tickets) && readFileSync(tickets, 'utf8').includes('+15551230002');
    await waitFor(filed, 15_000, 'a ticket in the file sink');
    expect(readFileSync(tickets, 'utf8')).toContain('"backend":"jambonz"');
  });
});
