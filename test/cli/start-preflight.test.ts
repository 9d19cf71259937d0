import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { STUB_WHISPER_REL } from '../helpers/fixtures.js';

describe('voicebot start checks what it needs before loading anything', () => {
  it('lists every missing program and file with its fix, and exits 2 without starting', async () => {
    const r = await runCli(['start'], {
      VOICEBOT_SPEECH__TTS__ESPEAK__ENGINE: 'binary',
      VOICEBOT_SPEECH__TTS__ESPEAK__BINARY: '/nonexistent/espeak-ng',
      VOICEBOT_SPEECH__VAD__MODEL_PATH: '/nonexistent/silero.onnx',
      VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_PATH: '/nonexistent/ggml-base.en.bin',
      VOICEBOT_LOG__FORMAT: 'json',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('voicebot: cannot start, 3 problem(s):');
    expect(r.stderr).toMatch(/FAIL {2}espeak-ng +\/nonexistent\/espeak-ng not found\n +→ apt-get install espeak-ng/);
    expect(r.stderr).toMatch(/FAIL {2}vad model .*\/nonexistent\/silero\.onnx/);
    expect(r.stderr).toMatch(
      /FAIL {2}whisper model .*\/nonexistent\/ggml-base\.en\.bin not found\n +→ run: voicebot models/,
    );
    expect(r.stdout).toBe(''); // nothing started, nothing logged
  });

  it('without the espeak-ng program, doctor (and so start) accepts the npm build of the default voice', async () => {
    const r = await runCli(['doctor'], {
      PATH: '/nonexistent',
      VOICEBOT_SPEECH__ASR__WHISPER_CPP__MODEL_PATH: STUB_WHISPER_REL,
    });
    expect(r.stdout).toMatch(
      /^PASS {2}espeak-ng +WebAssembly build from npm \(@echogarden\/espeak-ng-emscripten; espeak-ng not found\)/m,
    );
    expect(r.code).toBe(0);
  });
});
