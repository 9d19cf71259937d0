import { describe, expect, it } from 'vitest';
import { isRetryable, isSetupProblem, VoicebotError } from '../../src/core/errors.js';
import { ConfigError } from '../../src/config/load.js';
import { DeliveryError } from '../../src/crm/errors.js';
import {
  AsrBusyError,
  AsrHttpError,
  ModelDownloadError,
  TtsError,
  TtsSetupError,
  WhisperSetupError,
} from '../../src/speech/index.js';
import { VadModelError } from '../../src/speech/vad/silero.js';
import { AriError } from '../../src/telephony/asterisk/ari-client.js';

describe('VoicebotError', () => {
  it('carries kind, retryable (defaulted from the kind) and a fix; its name is the subclass', () => {
    const err = new VoicebotError('model file missing', { kind: 'setup', fix: 'run voicebot models download' });
    expect([err.name, err.kind, err.retryable, err.fix]).toEqual([
      'VoicebotError',
      'setup',
      false,
      'run voicebot models download',
    ]);
    expect(new VoicebotError('x', { kind: 'unavailable' }).retryable).toBe(true);
    expect(new VoicebotError('x', { kind: 'busy' }).retryable).toBe(true);
    expect(new VoicebotError('x', { kind: 'rejected' }).retryable).toBe(false);
    expect(new VoicebotError('x', { kind: 'rejected', retryable: true }).retryable).toBe(true);
    expect(new WhisperSetupError('no addon').name).toBe('WhisperSetupError');
  });

  it('the start-up problems cli/start.ts reports without a stack trace are exactly the setup and config kinds', () => {
    const setup = [
      new VadModelError('vad model missing', 'run voicebot models download'),
      new WhisperSetupError('addon not built'),
      new ModelDownloadError('wrong size'),
      new TtsSetupError('voice missing'),
      new ConfigError('bad key', ['web.port']),
    ];
    expect(setup.map(isSetupProblem)).toEqual([true, true, true, true, true]);
    const notSetup = [new TtsError('down'), new AsrBusyError('full'), new Error('bug'), 'text'];
    expect(notSetup.map(isSetupProblem)).toEqual([false, false, false, false]);
  });

  it('retry decisions read retryable: HTTP failures by status, foreign errors count as transport failures', () => {
    expect([undefined, 500, 503, 429, 400, 404, 408].map((s) => new AsrHttpError('asr', s).retryable)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect([new DeliveryError('503', true, 503), new DeliveryError('400', false, 400)].map(isRetryable)).toEqual([
      true,
      false,
    ]);
    expect([0, 500, 404, 422].map((s) => new AriError('GET', '/x', s, '').retryable)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(isRetryable(new TypeError('fetch failed'))).toBe(true);
  });
});
