import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'voicebot-cli-'));
const STUB_MODEL = 'test/fixtures/models/for-tests-ggml-tiny.en.bin';

describe('voicebot CLI', () => {
  it('config print shows the effective config with secrets masked', async () => {
    const r = await runCli(['config', 'print'], {
      VOICEBOT_WEB__AGENT_CONSOLE__TOKEN: 'very-secret-token',
      VOICEBOT_WEB__PORT: '3999',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('port: 3999');
    expect(r.stdout).toContain('token: "********"');
    expect(r.stdout + r.stderr).not.toContain('very-secret-token');
  });

  it('start with a bad config exits 2 and names the key', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'web:\n  port: -1\n');
    const r = await runCli(['start', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('web.port');
  });

  it('start with an unknown environment variable exits 2 and names it', async () => {
    const r = await runCli(['start'], { VOICEBOT_TELEPHONY__BACKNED: 'asterisk' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('VOICEBOT_TELEPHONY__BACKNED');
  });

  it('doctor with a bad config exits 2 and names the key', async () => {
    const r = await runCli(['doctor'], { VOICEBOT_SPEECH__ASR__PROVIDER: 'kaldi' });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('speech.asr.provider');
  });

  it('doctor passes with the model present and prints one line per check', async () => {
    const r = await runCli(['doctor'], { VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_PATH: STUB_MODEL });
    expect(r.stdout).toMatch(/^PASS {2}config/m);
    expect(r.stdout).toMatch(/^PASS {2}whisper model .*checksum: stub/m);
    expect(r.stdout).toMatch(/^PASS {2}vad model/m);
    expect(r.stdout).toMatch(/^PASS {2}espeak-ng/m);
    expect(r.code).toBe(0);
  });

  it('doctor fails on a missing model and says which command fixes it', async () => {
    const r = await runCli(['doctor'], { VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_DIR: join(dir, 'empty') });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}whisper model/m);
    expect(r.stdout).toContain('voicebot models download base.en');
  });
});
