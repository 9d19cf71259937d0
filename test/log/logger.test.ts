import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { callLogger, createLogger, maskPhone } from '../../src/log/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { stream, lines, text: () => lines.join('\n') };
}

describe('logger', () => {
  it('never writes a secret, whether logged as a field, nested, in headers or as a config Secret', () => {
    const config = loadConfig({
      env: {
        VOICEBOT_TELEPHONY__BACKEND: 'asterisk',
        VOICEBOT_TELEPHONY__ASTERISK__URL: 'http://127.0.0.1:8088',
        VOICEBOT_TELEPHONY__ASTERISK__USERNAME: 'voicebot',
        VOICEBOT_TELEPHONY__ASTERISK__PASSWORD: 's3cr3t-ari-pass',
      },
    });
    const out = capture();
    const log = createLogger({ ...config.log, level: 'trace' }, out.stream);
    log.info({ config }, 'effective config');
    log.info({ password: 's3cr3t-ari-pass' }, 'flat');
    log.info({ request: { headers: { authorization: 'Basic s3cr3t-ari-pass' } } }, 'nested');
    log.info({ sink: { apiToken: 's3cr3t-ari-pass', accessToken: 's3cr3t-ari-pass' } }, 'sink');
    expect(out.lines).toHaveLength(4);
    expect(out.text()).not.toContain('s3cr3t-ari-pass');
    expect(out.text()).toContain('[redacted]');
  });

  it('masks caller phone numbers when configured, keeping the last 4 digits', () => {
    const out = capture();
    const log = createLogger({ level: 'info', format: 'json', redactPhoneNumbers: true }, out.stream);
    log.info({ phone: '+1 (555) 123-4567', call: { from: '+15559876543' } }, 'call');
    expect(out.text()).not.toContain('555');
    const line = JSON.parse(out.lines[0]!) as { phone: string; call: { from: string } };
    expect(line.phone).toBe('***4567');
    expect(line.call.from).toBe('***6543');
  });

  it('keeps phone numbers when not configured', () => {
    const out = capture();
    createLogger({ level: 'info', format: 'json', redactPhoneNumbers: false }, out.stream).info({
      phone: '+15551234567',
    });
    expect(out.text()).toContain('+15551234567');
  });

  it('carries the call id on every line of a call logger', () => {
    const out = capture();
    const log = callLogger(
      createLogger({ level: 'info', format: 'json', redactPhoneNumbers: false }, out.stream),
      'c-42',
    );
    log.info('one');
    log.child({ stage: 'asr' }).info('two');
    expect(out.lines.map((l) => (JSON.parse(l) as { callId: string }).callId)).toEqual(['c-42', 'c-42']);
  });

  it('masks short numbers entirely', () => {
    expect(maskPhone('123')).toBe('***');
  });
});
