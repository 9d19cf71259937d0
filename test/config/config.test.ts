import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, envLayer, loadConfig } from '../../src/config/load.js';
import { Secret, SECRET_MASK } from '../../src/config/secret.js';

const dir = mkdtempSync(join(tmpdir(), 'voicebot-config-'));
const yamlFile = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config layers', () => {
  it('runs on embedded defaults with no file and no environment', () => {
    const c = loadConfig({ env: {} });
    expect(c.telephony.backend).toBe('browser');
    expect(c.web.port).toBe(3000);
    expect(c.crm.sinks).toEqual([{ type: 'file', path: 'data/tickets.jsonl' }]);
    expect(c.session.store).toBe('memory');
  });

  it('applies defaults < YAML file < environment, later wins', () => {
    const file = yamlFile(
      'layers.yaml',
      'web:\n  port: 4000\n  host: 0.0.0.0\n  agentConsole:\n    token: t0ken\nlog:\n  level: debug\n',
    );
    const c = loadConfig({ file, env: { VOICEBOT_WEB__PORT: '5000' } });
    expect(c.web.port).toBe(5000); // env beats file
    expect(c.web.host).toBe('0.0.0.0'); // file beats default
    expect(c.log.level).toBe('debug');
  });

  it('reads the file named by VOICEBOT_CONFIG', () => {
    const file = yamlFile('env-named.yaml', 'web:\n  port: 4100\n');
    expect(loadConfig({ env: { VOICEBOT_CONFIG: file } }).web.port).toBe(4100);
  });

  it('maps VOICEBOT_A__B_C to a.bC ignoring case and underscores, parsing scalars', () => {
    expect(
      envLayer({
        VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_PATH: '/m/x.bin',
        VOICEBOT_LOG__REDACT_PHONE_NUMBERS: 'true',
        VOICEBOT_WEB__PORT: '8080',
        OTHER: 'ignored',
      }),
    ).toEqual({
      speech: { asr: { whisperCpp: { modelPath: '/m/x.bin' } } },
      log: { redactPhoneNumbers: true },
      web: { port: 8080 },
    });
  });

  it('takes JSON lists from the environment', () => {
    const c = loadConfig({ env: { VOICEBOT_DIALOG__ANGRY_WORDS: '["livid", "fuming"]' } });
    expect(c.dialog.angryWords).toEqual(['livid', 'fuming']);
  });
});

describe('config validation names the key', () => {
  it('rejects an unknown key in the file', () => {
    const file = yamlFile('unknown.yaml', 'web:\n  prot: 3000\n');
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.keys).toContain('web.prot');
    expect(err.message).toContain('web.prot');
    expect(err.exitCode).toBe(2);
  });

  it('rejects an unknown environment variable', () => {
    const err = configError(() => loadConfig({ env: { VOICEBOT_WEB__PROT: '1' } }));
    expect(err.message).toContain('VOICEBOT_WEB__PROT');
  });

  it('rejects a wrong type', () => {
    const err = configError(() => loadConfig({ env: { VOICEBOT_WEB__PORT: 'eighty' } }));
    expect(err.keys).toEqual(['web.port']);
  });

  it('rejects a missing secret', () => {
    const file = yamlFile(
      'zendesk.yaml',
      'crm:\n  sinks:\n    - type: zendesk\n      baseUrl: https://acme.zendesk.com\n      email: bot@acme.test\n',
    );
    const err = configError(() => loadConfig({ file, env: {} }));
    expect(err.keys).toEqual(['crm.sinks.0.apiToken']);
    expect(err.message).toMatch(/required secret is missing/);
  });

  it('requires the section of the chosen telephony backend', () => {
    const err = configError(() => loadConfig({ env: { VOICEBOT_TELEPHONY__BACKEND: 'asterisk' } }));
    expect(err.keys).toEqual(['telephony.asterisk']);
  });

  it('rejects a file that is not YAML, naming the file', () => {
    const file = yamlFile('broken.yaml', 'web: [unclosed\n');
    expect(configError(() => loadConfig({ file, env: {} })).message).toContain(file);
  });

  it('rejects a missing file', () => {
    expect(configError(() => loadConfig({ file: join(dir, 'nope.yaml'), env: {} })).message).toContain('nope.yaml');
  });
});

describe('secrets', () => {
  it('never print their value', () => {
    const s = new Secret('hunter2');
    expect(String(s)).toBe(SECRET_MASK);
    expect(JSON.stringify({ s })).not.toContain('hunter2');
    expect(inspect({ s })).not.toContain('hunter2');
    expect(`${s}`).not.toContain('hunter2');
    expect(s.reveal()).toBe('hunter2');
  });

  it('are typed as secrets after loading', () => {
    const c = loadConfig({
      env: { VOICEBOT_WEB__AGENT_CONSOLE__TOKEN: 'tok-123' },
    });
    expect(c.web.agentConsole.token).toBeInstanceOf(Secret);
    expect(JSON.stringify(c)).not.toContain('tok-123');
  });
});
