import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runChecks } from '../../src/cli/doctor.js';
import { loadConfig } from '../../src/config/load.js';
import { runCli } from '../helpers/cli.js';
import { STUB_WHISPER_REL, VAD_MODEL } from '../helpers/fixtures.js';
import { freePort, startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { startSecurityApp } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vb-startup-'));

/** A config file for `voicebot start`: stub whisper model, temp CRM paths, free port; `extra` YAML appended. */
async function configFile(extra: Record<string, string> = {}): Promise<string> {
  const sub = mkdtempSync(join(dir, 'case-'));
  const values: Record<string, string> = {
    port: String(await freePort()),
    vad: VAD_MODEL,
    outbox: join(sub, 'outbox'),
    tickets: join(sub, 'tickets.jsonl'),
    ...extra,
  };
  const path = join(sub, 'voicebot.yaml');
  writeFileSync(
    path,
    [
      'web:',
      `  port: ${values.port}`,
      'speech:',
      '  asr:',
      '    whisperCpp:',
      `      modelPath: ${STUB_WHISPER_REL}`,
      '  vad:',
      `    modelPath: ${values.vad}`,
      'crm:',
      '  sinks:',
      '    - type: file',
      `      path: ${values.tickets}`,
      '  outbox:',
      `    dir: ${values.outbox}`,
      '',
    ].join('\n'),
  );
  return path;
}

/** `voicebot start` must end with exit 2 and one clear message naming `key`: no stack trace, no abort. */
async function expectStartupRefused(config: string, key: string, what: RegExp): Promise<void> {
  const r = await runCli(['start', '--config', config], {}, 60_000);
  expect(r.stderr).toContain(key);
  expect(r.stderr).toMatch(what);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.code).toBe(2);
}

/** Item 11: start-up fails closed, with the key or path named and exit 2, never a stack trace or a half-started bot. */
describe('start-up fails closed (item 11)', () => {
  it('a truncated VAD model: exit 2 naming speech.vad.modelPath (not an abort), and doctor says FAIL', async () => {
    const truncated = join(dir, 'truncated-silero.onnx');
    writeFileSync(truncated, readFileSync(VAD_MODEL).subarray(0, 200_000));
    await expectStartupRefused(await configFile({ vad: truncated }), 'speech.vad.modelPath', /could not be loaded/);
    const checks = await runChecks(
      loadConfig({
        env: {},
        overrides: {
          speech: { vad: { modelPath: truncated }, asr: { whisperCpp: { modelPath: STUB_WHISPER_REL } } },
        },
      }),
    );
    expect(checks.find((c) => c.name === 'vad model')).toMatchObject({ ok: false });
  });

  it('the web port in use: exit 2 naming web.port', async () => {
    const holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    try {
      const port = (holder.address() as AddressInfo).port;
      await expectStartupRefused(await configFile({ port: String(port) }), 'web.port', /already in use/);
    } finally {
      holder.close();
    }
  });

  it('an outbox directory that cannot be created: exit 2 naming crm.outbox.dir', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    await expectStartupRefused(await configFile({ outbox: join(file, 'outbox') }), 'crm.outbox.dir', /not writable/);
  });

  it('a ticket file that cannot be written: exit 2 naming the sink path', async () => {
    const directory = join(dir, 'tickets-is-a-dir');
    mkdirSync(directory, { recursive: true });
    await expectStartupRefused(await configFile({ tickets: directory }), 'crm.sinks[0].path', /cannot be opened/);
  });

  it('Redis unreachable: the bot starts but /readyz stays 503 with the reason', async () => {
    const port = await freePort(); // nothing listens there
    const s = await startSecurityApp({ redis: { url: `redis://127.0.0.1:${port}` } });
    try {
      await waitFor(
        async () => {
          const body = (await (await fetch(`${s.url}/readyz`)).json()) as {
            components: Record<string, { reason?: string }>;
          };
          return (body.components.redis?.reason ?? '').includes('ECONNREFUSED');
        },
        10_000,
        'redis reason in /readyz',
      );
      const ready = await fetch(`${s.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        ready: false,
        components: { redis: { ready: false, reason: 'unreachable: ECONNREFUSED' } },
      });
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('Redis reachable: /readyz turns 200 once it answers', async () => {
    const redis = await startRedis();
    const s = await startSecurityApp({ redis: { url: redis.url } });
    try {
      await waitFor(async () => (await fetch(`${s.url}/readyz`)).status === 200, 10_000, 'ready');
      expect(await (await fetch(`${s.url}/readyz`)).json()).toEqual({
        ready: true,
        components: { redis: { ready: true } },
      });
    } finally {
      await s.stop();
      await redis.stop();
    }
  });
});
