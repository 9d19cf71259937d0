/** The deployment files: docker-compose.yml validates, and the Asterisk templates render as the entrypoint does. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validate } from '../../src/config/load.js';
import type { TransferTarget } from '../../src/telephony/port.js';
import { dialString } from '../../src/telephony/asterisk/transfer.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

function has(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const compose = has('docker-compose');
const envsubst = has('envsubst');

describe('docker-compose.yml', () => {
  it.skipIf(!compose)('passes `docker-compose config -q` with the example env', async () => {
    const { stdout } = await run('docker-compose', ['--env-file', 'docker/env.example', 'config', '--services'], {
      cwd: root,
    });
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['asterisk', 'redis', 'voicebot', 'voicebot-cuda']);
    await run('docker-compose', ['--env-file', 'docker/env.example', 'config', '-q'], { cwd: root });
    const cfg = parse(
      (await run('docker-compose', ['--env-file', 'docker/env.example', 'config'], { cwd: root })).stdout,
    ) as {
      services: Record<string, { ports?: Array<{ target: number; protocol?: string }> }>;
    };
    const published = (cfg.services.asterisk!.ports ?? []).map((p) => `${p.target}/${p.protocol ?? 'tcp'}`);
    expect(published).toContain('5060/udp');
    expect(published).toContain('5060/tcp');
    expect(published).toContain('10000/udp'); // RTP range start (compose expands ranges)
  });

  it.skipIf(!compose)('refuses to run without the secrets', async () => {
    const err = await run('docker-compose', ['config', '-q'], { cwd: root, env: { PATH: process.env.PATH } }).catch(
      (e: { stderr: string }) => e,
    );
    expect((err as { stderr: string }).stderr).toMatch(/set ARI_PASSWORD in \.env/);
  });

  it.runIf(!compose)('docker-compose is not installed: compose checks skipped', () => {
    console.warn('docker-compose binary missing: skipping `docker-compose config -q`');
  });
});

describe('asterisk-config templates', () => {
  const vars = {
    ARI_USERNAME: 'ariuser',
    ARI_PASSWORD: 'ari-pass',
    ARI_APP: 'voicebot',
    VOICEBOT_NUMBER: '100',
    ARI_BIND_ADDRESS: '172.28.0.2',
    LOCAL_NET: '172.28.0.0/24',
    EXTERNAL_IP: '203.0.113.5',
    SOFTPHONE_PASSWORD: 'phone-pass',
    AGENT_PASSWORD: 'agent-pass',
  };
  // what the image's entrypoint runs, and what a user with their own Asterisk runs (docs/telephony-asterisk.md)
  let rendered: string | null = null;
  const render = (name: string) => {
    if (!rendered) {
      rendered = mkdtempSync(join(tmpdir(), 'vb-astconf-'));
      execFileSync('sh', [`${root}asterisk-config/render.sh`, `${root}asterisk-config`, rendered], {
        env: { ...vars, PATH: process.env.PATH },
      });
    }
    return readFileSync(join(rendered, name.replace(/\.template$/, '')), 'utf8');
  };

  it.skipIf(!envsubst)('leaves comments alone: no value (the ARI password) lands in a comment', () => {
    for (const f of readdirSync(`${root}asterisk-config`).filter((n) => n.endsWith('.template'))) {
      const comments = render(f)
        .split('\n')
        .filter((l) => l.trimStart().startsWith(';'));
      for (const value of Object.values(vars).filter((v) => v.length > 4 && v !== 'voicebot'))
        expect(comments.join('\n'), `${f}: ${value} in a comment`).not.toContain(value);
    }
    expect(render('ari.conf.template')).toMatch(/^; ARI users\. .*\$\{ARI_PASSWORD\}/m);
  });

  it('ships every config file Asterisk reads at start (no "unable to load" errors on a stock install)', () => {
    const shipped = new Set(readdirSync(`${root}asterisk-config`).map((n) => n.replace(/\.template$/, '')));
    for (const f of ['cdr.conf', 'cel.conf', 'features.conf', 'acl.conf', 'udptl.conf', 'pjproject.conf'])
      expect(shipped.has(f), f).toBe(true);
    for (const f of ['websocket_client.conf', 'pjsip_notify.conf']) expect(shipped.has(f), f).toBe(true);
  });

  it.skipIf(!envsubst)('substitutes only our variables; Asterisk dialplan variables survive', () => {
    const ext = render('extensions.conf.template');
    expect(ext).toMatch(/^exten => 100,1,NoOp\(Voicebot call from \$\{CALLERID\(all\)\}\)/m);
    expect(ext).toContain('Stasis(voicebot)');
    expect(ext).toContain('Dial(PJSIP/${EXTEN},30)');
    const ari = render('ari.conf.template');
    expect(ari).toMatch(/^\[ariuser\]$/m);
    expect(ari).toMatch(/^password=ari-pass$/m);
    expect(render('http.conf.template')).toMatch(/^bindaddr=172\.28\.0\.2$/m);
    const pjsip = render('pjsip.conf.template');
    expect(pjsip).toMatch(/^external_media_address=203\.0\.113\.5$/m);
    expect(pjsip.match(/^password=phone-pass$/gm)).toHaveLength(3);
    expect(pjsip.match(/^password=agent-pass$/gm)).toHaveLength(3);
    expect(pjsip).toMatch(/^\[transport-tcp\]$/m);
    for (const f of readdirSync(`${root}asterisk-config`).filter((n) => n.endsWith('.template'))) {
      const settings = render(f)
        .split('\n')
        .filter((l) => !l.trimStart().startsWith(';'))
        .join('\n');
      expect(settings, f).not.toMatch(/\$\{(ARI_|SOFTPHONE|AGENT_|EXTERNAL_IP|LOCAL_NET|VOICEBOT_NUMBER)/);
    }
  });

  it('rtp.conf range matches the ports docker-compose publishes', () => {
    const rtp = readFileSync(`${root}asterisk-config/rtp.conf`, 'utf8');
    const start = /rtpstart=(\d+)/.exec(rtp)![1];
    const end = /rtpend=(\d+)/.exec(rtp)![1];
    const doc = parse(readFileSync(`${root}docker-compose.yml`, 'utf8')) as {
      services: { asterisk: { ports: string[] } };
    };
    expect(doc.services.asterisk.ports).toContain(`${start}-${end}:${start}-${end}/udp`);
  });
});

describe('the shipped example against the shipped Asterisk config', () => {
  it('every route target of examples/support-line.yaml dials an endpoint asterisk-config/ defines', () => {
    const example = parse(readFileSync(`${root}examples/support-line.yaml`, 'utf8')) as {
      dialog: { routing: { default: string; targets: Record<string, { kind: string; address: string }> } };
    };
    const { asterisk } = validate({
      telephony: { backend: 'asterisk', asterisk: { url: 'http://127.0.0.1:8088', username: 'u', password: 'p' } },
    }).telephony;
    const pjsip = readFileSync(`${root}asterisk-config/pjsip.conf.template`, 'utf8');
    // endpoints defined (not commented out): [name](phone-endpoint) or [name] followed by type=endpoint
    const endpoints = new Set(
      [...pjsip.matchAll(/^\[([^\]]+)\]\((?:[^)]*endpoint[^)]*)\)|^\[([^\]]+)\]\ntype=endpoint/gm)].map(
        (m) => m[1] ?? m[2],
      ),
    );
    const targets = Object.entries(example.dialog.routing.targets);
    expect(targets.length).toBeGreaterThanOrEqual(3);
    for (const [name, target] of targets) {
      const dial = dialString({ ...target, timeoutSec: 30 } as TransferTarget, asterisk!.dialTemplates);
      // PJSIP/name, PJSIP/number@endpoint, PJSIP/endpoint/sip:uri
      const rest = /^PJSIP\/(.+)$/.exec(dial)?.[1] ?? '';
      const used = rest.includes('/') ? rest.split('/')[0] : rest.slice(rest.lastIndexOf('@') + 1);
      expect(endpoints.has(used ?? ''), `route ${name} dials ${dial}: endpoint "${used}" is not in pjsip.conf`).toBe(
        true,
      );
    }
  });
});
