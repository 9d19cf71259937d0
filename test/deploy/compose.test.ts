/**
 * docker-compose.yml scales out: `docker compose up --scale voicebot=3` needs instances without a fixed address or
 * host port, Asterisk opening one ARI websocket per call to the `voicebot` service (outbound websockets), and each
 * instance telling Asterisk its own address for the audio. Checked with `docker-compose config` (no engine here), the
 * bot's own config validation and the Asterisk config the compose environment renders.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { parseAsteriskConf } from '../helpers/asterisk-conf.js';

const run = promisify(execFile);
const has = (bin: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

interface ComposeService {
  environment: Record<string, string | number>;
  entrypoint?: string[];
  ports?: Array<{ target: number; published?: string | number }>;
  networks?: Record<string, { ipv4_address?: string; aliases?: string[] } | null>;
  container_name?: string;
}

describe.skipIf(!has('docker-compose') || !has('envsubst'))('docker-compose.yml, scaled out', () => {
  let services: Record<string, ComposeService>;
  beforeAll(async () => {
    await run('docker-compose', ['--env-file', 'docker/env.example', 'config', '-q']);
    const { stdout } = await run('docker-compose', ['--env-file', 'docker/env.example', 'config']);
    services = (parse(stdout) as { services: Record<string, ComposeService> }).services;
  });

  it('voicebot can run as 3 instances: no fixed address, no container name, a host port per instance', () => {
    for (const name of ['voicebot', 'voicebot-cuda']) {
      const s = services[name]!;
      expect(s.container_name, name).toBeUndefined();
      for (const net of Object.values(s.networks ?? {})) expect(net?.ipv4_address, name).toBeUndefined();
      const http = s.ports!.find((p) => p.target === 3000)!;
      const [from, to] = String(http.published).split('-').map(Number);
      expect(to! - from! + 1, name).toBeGreaterThanOrEqual(3);
    }
    expect(services['voicebot-cuda']!.networks!['voice']!.aliases).toContain('voicebot');
  });

  it("the bot's environment passes its own config validation: outbound websockets at the path Asterisk dials", () => {
    const env = botEnv(services['voicebot']!);
    const config = loadConfig({ file: 'examples/support-line.yaml', env });
    const ari = config.telephony.asterisk!;
    expect(ari.connection).toBe('outbound');
    const uri = new URL(String(services['asterisk']!.environment['BOTS_URI']));
    expect(uri.protocol).toBe('ws:');
    expect(uri.hostname).toBe('voicebot');
    expect(Number(uri.port)).toBe(config.web.port);
    expect(uri.pathname).toBe(ari.outboundPath);
    expect(config.web.host).toBe('0.0.0.0');
  });

  it('each instance sets its own RTP address before starting (the entrypoint, run here with the start swapped)', async () => {
    const cmd = services['voicebot']!.entrypoint!;
    expect(cmd.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    const script = cmd[2]!.replaceAll('$$', '$').replace(/exec .*$/, 'printenv VOICEBOT_TELEPHONY__ASTERISK__RTP_HOST');
    const { stdout } = await run('sh', ['-c', script]);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+\.\d+$|^[0-9a-f:]+$/);
    expect(cmd[2]).toMatch(/exec \/usr\/bin\/tini -- node dist\/src\/cli\/main\.js start$/);
  });

  it("Asterisk's rendered websocket_client.conf and ari.conf serve the bot's app over per-call websockets", () => {
    const asterisk = services['asterisk']!.environment;
    const out = mkdtempSync(join(tmpdir(), 'vb-compose-ast-'));
    const env = Object.fromEntries(Object.entries(asterisk).map(([k, v]) => [k, String(v)]));
    execFileSync('sh', ['asterisk-config/render.sh', 'asterisk-config', out], {
      env: { ...env, PATH: process.env.PATH },
    });
    const ws = parseAsteriskConf(readFileSync(join(out, 'websocket_client.conf'), 'utf8'));
    const ari = parseAsteriskConf(readFileSync(join(out, 'ari.conf'), 'utf8'));
    const ext = readFileSync(join(out, 'extensions.conf'), 'utf8');

    const config = loadConfig({ file: 'examples/support-line.yaml', env: botEnv(services['voicebot']!) });
    const bot = config.telephony.asterisk!;
    const [owcName, owc] = [...ari].find(([, s]) => s['type'] === 'outbound_websocket')!;
    expect(owcName).toBeTruthy();
    const client = ws.get(owc['websocket_client_id']!)!;
    expect(client).toMatchObject({
      type: 'websocket_client',
      connection_type: 'per_call_config',
      uri: asterisk['BOTS_URI'],
      protocols: 'ari',
      username: bot.username,
      password: bot.password.reveal(),
    });
    // crash takeover (docs/high-availability.md): failed reconnect attempts fit inside the lease a dead instance
    // leaves, and that lease keeps the caller's silence under 2 s
    const interval = Number(client['reconnect_interval']);
    expect((Number(client['reconnect_attempts']) - 1) * interval).toBeLessThan((config.session.leaseMs * 2) / 3);
    expect(config.session.leaseMs).toBeLessThanOrEqual(1500);
    expect(owc['apps']).toBe(bot.app);
    expect(ari.get(owc['local_ari_user']!)?.['type']).toBe('user');
    expect(ari.get(owc['local_ari_user']!)?.['read_only']).toBe('no');
    expect(ext).toContain(`Stasis(${bot.app})`);
    // a call no bot serves continues in the dialplan to a person
    expect(ext).toMatch(/GotoIf\(\$\["\$\{STASISSTATUS\}" = "FAILED"\]\?bots-down,s,1\)/);
    expect(parseAsteriskConf(ext).get('bots-down')).toBeDefined();
  });

  it('without ARI_CONNECTION=outbound the shipped websocket_client.conf defines no connection (inbound)', () => {
    const out = mkdtempSync(join(tmpdir(), 'vb-compose-ast-'));
    const env = { ARI_USERNAME: 'u', ARI_PASSWORD: 'p', SOFTPHONE_PASSWORD: 's', AGENT_PASSWORD: 'a' };
    execFileSync('sh', ['asterisk-config/render.sh', 'asterisk-config', out], {
      env: { ...env, PATH: process.env.PATH },
    });
    const ari = parseAsteriskConf(readFileSync(join(out, 'ari.conf'), 'utf8'));
    expect([...ari.values()].some((s) => s['type'] === 'outbound_websocket')).toBe(false);
    const shipped = parseAsteriskConf(readFileSync('asterisk-config/websocket_client.conf', 'utf8'));
    expect(shipped.size).toBe(0);
  });
});

/** The bot container's environment as compose resolves it, plus what its entrypoint adds. */
function botEnv(s: ComposeService): Record<string, string> {
  const env = Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v)]));
  return { ...env, VOICEBOT_TELEPHONY__ASTERISK__RTP_HOST: '172.28.0.11' };
}
