import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import { asteriskAppOverrides, greetedCall } from '../helpers/asterisk-app.js';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The whole app as `voicebot start` builds it, with telephony.backend = asterisk against the ARI emulator:
 * real Silero VAD, real whisper.cpp (weightless test model), real espeak-ng, file CRM sink.
 */
describe('app with the Asterisk backend', () => {
  let emu: AriEmulator;
  let app: RunningApp;
  const dir = mkdtempSync(join(tmpdir(), 'vb-app-ari-'));
  const tickets = join(dir, 'tickets.jsonl');

  beforeAll(async () => {
    emu = await startAriEmulator();
    const rtpPortMin = await freePort();
    const config = loadConfig({ env: {}, overrides: asteriskAppOverrides(emu, rtpPortMin, dir) });
    app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
  });

  afterAll(async () => {
    await app?.stop();
    await emu?.close();
  });

  it('answers, greets the caller with audible speech, and files a ticket after hangup', async () => {
    await greetedCall(app, emu, '+15551230001');
    const filed = () => existsSync(tickets) && readFileSync(tickets, 'utf8').includes('+15551230001');
    await waitFor(filed, 15_000, 'a ticket in the file sink');
    const line = readFileSync(tickets, 'utf8').trim().split('\n').at(-1)!;
    expect(line).toContain('"outcome":"abandoned"');
    expect(emu.channels.size).toBe(0);
  });
});
