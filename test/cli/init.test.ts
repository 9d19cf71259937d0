import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BACKENDS, CRMS, renderInitConfig } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import { runCli, REPO_ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'voicebot-init-'));
const SECRETS: Record<string, string> = {
  ARI_PASSWORD: 'ari-pw-123',
  OUTBOUND_TOKEN: 'outbound-456',
  AGENT_CONSOLE_TOKEN: 'console-789',
  JAMBONZ_WEBHOOK_SECRET: 'jb-hook-abc',
  JAMBONZ_WS_PASSWORD: 'jb-ws-def',
  ZENDESK_API_TOKEN: 'zd-token-ghi',
  HUBSPOT_TOKEN: 'hs-token-jkl',
  CRM_WEBHOOK_SECRET: 'wh-secret-mno',
};
const OTHER = { asterisk: ['jambonz'], jambonz: ['asterisk', 'outboundToken'], browser: ['asterisk', 'jambonz'] };

describe('voicebot init', () => {
  for (const backend of BACKENDS) {
    for (const crm of CRMS) {
      it(`${backend} + ${crm}: only that backend's and sink's keys, secrets as \${VAR}, and the file validates`, () => {
        const { yaml, env } = renderInitConfig({ backend, crm });
        const doc = parse(yaml) as {
          telephony: Record<string, unknown>;
          crm: { sinks: Array<Record<string, unknown>> };
        };
        expect(doc.telephony.backend).toBe(backend);
        for (const other of OTHER[backend]) expect(doc.telephony).not.toHaveProperty(other);
        expect(doc.crm.sinks.map((s) => s.type)).toEqual([crm]);
        for (const value of Object.values(SECRETS)) expect(yaml).not.toContain(value);
        for (const name of env) expect(yaml).toContain(`\${${name}}`);
        expect(yaml).toMatch(/^ {2}# Where calls come from/m); // comments are the schema's descriptions
        const file = join(dir, `${backend}-${crm}.yaml`);
        writeFileSync(file, yaml);
        const config = loadConfig({ file, env: { ...SECRETS } });
        expect(config.telephony.backend).toBe(backend);
        expect(config.crm.sinks[0]?.type).toBe(crm);
      });
    }
  }

  it('takes flags, writes the file (owner-only), lists the variables to set, then runs doctor', async () => {
    const out = join(dir, 'flags.yaml');
    const r = await runCli(['init', '--backend', 'jambonz', '--crm', 'webhook', '--out', out], SECRETS);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${out} (jambonz telephony, webhook tickets)`);
    expect(r.stdout).toContain(
      'set JAMBONZ_WEBHOOK_SECRET, JAMBONZ_WS_PASSWORD, AGENT_CONSOLE_TOKEN, CRM_WEBHOOK_SECRET',
    );
    expect(r.stdout).toMatch(/voicebot doctor:\nPASS {2}config/);
    expect(r.stdout).toMatch(/^(PASS|FAIL) {2}vad model/m);
    expect(statSync(out).mode & 0o077).toBe(0);
    const again = await runCli(['init', '--backend', 'browser', '--crm', 'file', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists; use --force');
    expect(readFileSync(out, 'utf8')).toContain('backend: jambonz');
  });

  it('asks for what the flags leave out, re-asking after a wrong answer', async () => {
    const out = join(dir, 'asked.yaml');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'init', '--out', out], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...SECRETS },
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stdin.end('pbx\nasterisk\nhubspot\n');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(stdout).toContain('Telephony backend (browser, asterisk, jambonz) [browser]: ');
    expect(stdout).toContain('"pbx" is not one of them');
    expect(stdout).toContain('Where tickets go (file, zendesk, hubspot, webhook) [file]: ');
    const doc = parse(readFileSync(out, 'utf8')) as { telephony: { backend: string }; crm: { sinks: unknown[] } };
    expect(doc.telephony.backend).toBe('asterisk');
    expect(doc.crm.sinks).toEqual([{ type: 'hubspot', accessToken: '${HUBSPOT_TOKEN}', createContacts: true }]);
  });

  it('rejects an unknown flag value with the choices', async () => {
    const r = await runCli(['init', '--backend', 'freeswitch', '--out', join(dir, 'never.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--backend must be one of browser, asterisk, jambonz (got "freeswitch")');
    expect(existsSync(join(dir, 'never.yaml'))).toBe(false);
  });
});
