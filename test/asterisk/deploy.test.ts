/** The deployment files: docker-compose.yml validates, and the Asterisk templates render as the entrypoint does. */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

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
  const entrypoint = readFileSync(`${root}docker/asterisk/entrypoint.sh`, 'utf8');
  const shellFormat = /VARS='([^']+)'/.exec(entrypoint)![1]!;
  const render = (name: string) =>
    execFileSync('envsubst', [shellFormat], {
      input: readFileSync(`${root}asterisk-config/${name}`),
      env: { ...vars, PATH: process.env.PATH },
    }).toString();

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
    expect(pjsip).toMatch(/^password=agent-pass$/m);
    expect(pjsip).toMatch(/^\[transport-tcp\]$/m);
    for (const f of readdirSync(`${root}asterisk-config`).filter((n) => n.endsWith('.template'))) {
      expect(render(f), f).not.toMatch(/\$\{(ARI_|SOFTPHONE|AGENT_|EXTERNAL_IP|LOCAL_NET|VOICEBOT_NUMBER)/);
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
