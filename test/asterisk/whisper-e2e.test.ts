/** One call through the emulator with the real speech stack: Silero VAD + whisper.cpp (stub model) + tone TTS. */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, ToneTts } from '../../src/dialog/scripted.js';
import type { CallRecord } from '../../src/core/call-record.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createAsr, createVadFactory } from '../../src/speech/index.js';
import type { Asr, AsrResult } from '../../src/speech/types.js';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import { assertReleased, startTestBackend, waitFor, type TestBackend } from './helpers.js';
import { STUB_WHISPER, VAD_MODEL, clip } from '../helpers/fixtures.js';

const MODEL = STUB_WHISPER;
const VAD = VAD_MODEL;

describe.skipIf(!existsSync(MODEL) || !existsSync(VAD))('end to end with real whisper.cpp and Silero VAD', () => {
  let emu: AriEmulator;
  let t: TestBackend | null = null;
  let asr: Asr;
  beforeAll(async () => {
    const deps = createTestDeps({});
    asr = await createAsr(
      { ...deps.config.speech.asr, whisperCpp: { ...deps.config.speech.asr.whisperCpp, modelPath: MODEL } },
      pino({ level: 'silent' }),
      createMetrics(false),
    );
  }, 60_000);
  afterAll(async () => {
    await t?.backend.stop();
    await emu?.close();
    await asr?.close();
  });

  it('caller speech reaches whisper through μ-law RTP and the call ends with a CallRecord', async () => {
    emu = await startAriEmulator();
    const results: AsrResult[] = [];
    const recording: Asr = {
      async *transcribe(audio, options) {
        for await (const r of asr.transcribe(audio, options)) {
          if (r.final) results.push(r);
          yield r;
        }
      },
      close: () => Promise.resolve(),
    };
    const base = createTestDeps({
      tts: new ToneTts({ msPerChar: 10 }),
      config: { dialog: { greeting: 'Hello there, this is the bot.' } },
    });
    const vad = createVadFactory(
      { ...base.config.speech.vad, modelPath: VAD },
      pino({ level: 'silent' }),
      base.metrics,
    );
    const deps = { ...base, asr: recording, vad };
    const finished: CallRecord[] = [];
    t = await startTestBackend(emu, async (leg) => void finished.push(await runCall(leg, deps)));
    const caller = await emu.placeCall();
    await waitFor(() => caller.audibleMs() >= 100, 5000, 'greeting');
    await caller.sendWav(clip('librispeech-test-clean-1089-134686-0001.wav'), { speed: 2 });
    await caller.sendSilence(1500, { speed: 1 });
    await waitFor(() => results.length >= 1, 20_000, 'whisper final result');
    expect(results[0]!.timings.audioMs).toBeGreaterThan(1000); // a real utterance went through RTP, VAD and ASR
    expect(results[0]!.text).toBe(''); // the stub model has no weights
    caller.hangup();
    await waitFor(() => finished.length === 1, 10_000, 'record');
    expect(finished[0]!.backend).toBe('asterisk');
    await waitFor(() => assertReleased(t!, emu).length === 0, 3000, 'release');
  }, 60_000);
});
