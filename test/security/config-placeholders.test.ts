import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configError, rawGet, startSecurityApp } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vb-placeholders-'));
const yaml = (text: string) => {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
};
const CONSOLE_YAML = 'web:\n  agentConsole:\n    token: ${AGENT_CONSOLE_TOKEN}\n';

/** Item 10: the docs write secrets as ${VAR}; the loader must expand them, never take the placeholder as the secret. */
describe('${VAR} in the config file (item 10)', () => {
  it('expands ${VAR} from the environment: the real token opens the console, the placeholder text does not', async () => {
    const s = await startSecurityApp({}, { AGENT_CONSOLE_TOKEN: 'real-console-token' }, yaml(CONSOLE_YAML));
    try {
      const host = `127.0.0.1:${s.port}`;
      const get = async (token: string) =>
        (await rawGet(`${s.url}/agent/api/calls`, { host, authorization: `Bearer ${token}` })).status;
      expect(await get('real-console-token')).toBe(200);
      expect(await get('${AGENT_CONSOLE_TOKEN}')).toBe(401);
    } finally {
      await s.stop();
    }
  });

  it('an unset variable stops start-up naming the key and the variable', () => {
    const err = configError(() => loadConfig({ file: yaml(CONSOLE_YAML), env: {} }));
    expect(err.keys).toEqual(['web.agentConsole.token', 'AGENT_CONSOLE_TOKEN']);
    expect(err.message).toContain('AGENT_CONSOLE_TOKEN is not set');
  });

  it('a placeholder that arrives unexpanded (environment, overrides) is refused as a secret', () => {
    const err = configError(() =>
      loadConfig({ env: { VOICEBOT_WEB__AGENT_CONSOLE__TOKEN: '${AGENT_CONSOLE_TOKEN}' } }),
    );
    expect(err.keys).toContain('web.agentConsole.token');
    expect(err.message).toContain('unexpanded');
  });

  it('expands inside longer strings, and $${VAR} stays literal', () => {
    const c = loadConfig({
      file: yaml('web:\n  publicUrl: https://${BOT_HOST}/\ndialog:\n  greeting: Cost is $${PRICE} today\n'),
      env: { BOT_HOST: 'bot.example.com' },
    });
    expect(c.web.publicUrl).toBe('https://bot.example.com/');
    expect(c.dialog.greeting).toBe('Cost is ${PRICE} today');
  });
});
