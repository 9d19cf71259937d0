import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GENERATED, render } from '../../scripts/docs/generate.js';
import { configKeys } from '../../src/config/keys.js';
import { declaredMetrics } from '../../scripts/docs/metrics-reference.js';
import { startApp } from '../../src/app.js';
import { envLayer, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { REPO_ROOT, STUB_WHISPER } from '../helpers/fixtures.js';

describe('generated references (npm run docs)', () => {
  for (const path of Object.keys(GENERATED)) {
    it(`${path} is what npm run docs writes`, async () => {
      const expected = await render(path);
      expect(expected.length).toBeGreaterThan(1000);
      expect(readFileSync(join(REPO_ROOT, path), 'utf8')).toBe(expected);
    });
  }

  it('the configuration reference lists every key with its env variable, default and description', () => {
    const keys = configKeys();
    const byKey = new Map(keys.map((k) => [k.key, k]));
    expect(byKey.get('speech.vad.endOfTurnSilenceMs')).toMatchObject({
      type: 'integer (≥ 50)',
      default: '`500`',
      env: 'VOICEBOT_SPEECH__VAD__END_OF_TURN_SILENCE_MS',
    });
    expect(byKey.get('telephony.asterisk.password')).toMatchObject({ type: 'secret', required: true });
    expect(byKey.get('crm.sinks[type=zendesk].apiToken')?.env).toBe('');
    expect(keys.every((k) => k.description.length > 0)).toBe(true);
    // every env name the reference prints is one the loader accepts, and lands on that key
    const withEnv = keys.filter((x) => x.env && !x.env.includes('<'));
    expect(withEnv.length).toBeGreaterThan(100);
    for (const k of withEnv) {
      const layer = envLayer({ [k.env]: 'x' });
      const value = k.key.split('.').reduce<unknown>((o, part) => (o as Record<string, unknown>)[part], layer);
      expect(value, k.env).toBe('x');
    }
  });

  it('a key added without a description fails generation, naming it', () => {
    const schema = z.strictObject({ log: z.strictObject({ level: z.string().default('info') }) });
    expect(() => configKeys(schema)).toThrow(/log\.level/);
  });

  it('every series a started bot exposes at /metrics is in the metrics reference', async () => {
    const config = loadConfig({
      env: {},
      overrides: { web: { port: 0 }, speech: { asr: { whisperCpp: { modelPath: STUB_WHISPER } } } },
    });
    const app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
    let exposed: string[];
    try {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      exposed = [...text.matchAll(/^# TYPE (voicebot_\S+)/gm)]
        .map((m) => m[1]!)
        .filter((n) => !n.startsWith('voicebot_process_'));
    } finally {
      await app.stop();
    }
    expect(exposed.length).toBeGreaterThan(5);
    const documented = new Set(declaredMetrics().map((m) => m.name));
    expect(exposed.filter((n) => !documented.has(n))).toEqual([]);
  });
});
