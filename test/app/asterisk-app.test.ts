import { once } from 'node:events';
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

describe('app with the Asterisk backend: graceful drain (SIGTERM)', () => {
  it('not ready at once, new calls refused, a call outlasting session.drainTimeoutSec is detached and left up', async () => {
    const emu = await startAriEmulator();
    const dir = mkdtempSync(join(tmpdir(), 'vb-app-drain-'));
    const tickets = join(dir, 'tickets.jsonl');
    const rtpPortMin = await freePort();
    const config = loadConfig({
      env: {},
      overrides: { ...asteriskAppOverrides(emu, rtpPortMin, dir), session: { drainTimeoutSec: 1 } },
    });
    const app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
    try {
      const caller = await emu.placeCall({ from: '+15551230002', to: '100' });
      while (caller.audibleMs() < 300) await once(caller, 'audio', { signal: AbortSignal.timeout(15_000) });
      const t0 = performance.now();
      const drained = app.drain();
      const readyz = await fetch(`${app.url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(JSON.stringify(await readyz.json())).toContain('draining');
      const late = await emu.placeCall({ from: '+15551230003', to: '100' });
      await late.ended; // refused: no bot answers it here
      expect(await drained).toEqual({ finished: false, detached: 1 });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1000);
      // detached for takeover: the caller is still up with its media leg, no end record was filed
      expect(caller.isEnded).toBe(false);
      expect(emu.channels.size).toBe(2);
      expect(existsSync(tickets) && readFileSync(tickets, 'utf8').includes('+15551230002')).toBe(false);
    } finally {
      await app.stop();
      await emu.close();
    }
  });
});
