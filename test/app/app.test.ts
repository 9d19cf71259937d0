import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startApp } from '../../src/app.js';
import { createLogger } from '../../src/log/logger.js';

describe('app', () => {
  it('starts on embedded defaults, serves health and metrics, and stops cleanly', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        web: { port: 0 },
        speech: { asr: { whisperCpp: { modelPath: 'test/fixtures/models/for-tests-ggml-tiny.en.bin' } } },
      },
    });
    const app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
    try {
      const health = await fetch(`${app.url}/healthz`);
      expect(health.status).toBe(200);
      // nothing registered as down on embedded defaults: the instance is ready, and says so with the registry's view
      const ready = await fetch(`${app.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { ready: boolean }).ready).toBe(true);
      app.readiness.set('test-component', false, 'held down by the test');
      expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toContain('voicebot_process_');
    } finally {
      await app.stop();
    }
    await expect(fetch(`${app.url}/healthz`)).rejects.toThrow();
  });
});
