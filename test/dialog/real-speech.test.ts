import { afterAll, describe, expect, it } from 'vitest';
import { resample } from '../../src/media/resampler.js';
import { readWavFile } from '../../src/media/wav.js';
import type { ScriptedAsr } from '../../src/dialog/scripted.js';
import { createTts } from '../../src/speech/tts/index.js';
import { createVadFactory } from '../../src/speech/vad/silero.js';
import type { Tts } from '../../src/speech/types.js';
import { startCall } from './harness.js';
import { VAD_MODEL, clip } from '../helpers/fixtures.js';

const REPLY = 'Your latest invoice is in your account under Billing. Refunds reach your card within five working days.';
const intents = [
  { name: 'billing', keywords: ['bill'], responses: [REPLY] },
  { name: 'country', keywords: ['country'], responses: ['Thank you, Mister President.'] },
];

/** Real Silero VAD (sherpa-onnx) and real espeak-ng TTS around the call core; ASR stays scripted. */
describe('runCall with the real VAD and TTS', () => {
  const tts: Tts[] = [];
  afterAll(async () => {
    for (const t of tts) await t.close();
  });

  async function realCall(asrScript: string[]) {
    const h = startCall({
      deps: {
        config: {
          speech: { vad: { modelPath: VAD_MODEL, interruptionMs: 200 } },
          dialog: { intents },
        },
        asrScript,
      },
      prepare: (deps) => {
        deps.vad = createVadFactory(deps.config.speech.vad, deps.logger, deps.metrics);
        deps.tts = createTts(deps.config.speech.tts, deps.logger, deps.metrics);
        tts.push(deps.tts);
      },
    });
    return h;
  }

  const jfk8k = async () => {
    const wav = await readWavFile(clip('jfk.wav'));
    return resample(wav.samples, wav.sampleRate, 8000);
  };

  it('hears a real utterance, answers in espeak audio, and a real interruption barges in', async () => {
    const speech = await jfk8k();
    const h = await realCall(['ask not what your country can do for you', 'a question about my bill']);
    await h.untilListening();
    const greetingSamples = h.leg.playedSamples;
    expect(greetingSamples).toBeGreaterThan(8000); // espeak at 22.05 kHz resampled to 8 kHz, > 1 s
    await h.leg.feedPcm(speech.subarray(0, 8000 * 3)); // "And so my fellow Americans, ask not…"
    await h.leg.pumpUntil(() => (h.deps.asr as ScriptedAsr).heard.length >= 1 && h.state() === 'speaking');
    await h.untilListening();
    expect(h.events('transcript').some((e) => e.entry.text === 'Thank you, Mister President.')).toBe(true);

    // now talk over the next reply with real speech
    await h.leg.feedPcm(speech.subarray(8000 * 5, 8000 * 7));
    await h.leg.pumpUntil(() => h.state() === 'speaking');
    const replyStart = h.leg.playedSamples;
    await h.leg.pumpUntil(() => h.leg.playedSamples - replyStart >= 8000); // one second of the reply heard
    const clearsBefore = h.leg.clears.length;
    await h.leg.feedPcm(speech.subarray(0, 8000 * 2));
    expect(h.leg.clears.length).toBe(clearsBefore + 1);
    await h.leg.pumpUntil(() => h.state() === 'listening');
    h.leg.hangupByCaller();
    const record = await h.done;
    const cut = record.transcript.find((e) => e.interrupted);
    expect(cut?.text).toMatch(/ … \[interrupted\]$/);
    expect(REPLY.startsWith(cut!.text.slice(0, -' … [interrupted]'.length))).toBe(true);
    expect(cut!.text.length).toBeLessThan(REPLY.length);
    expect(h.leg.listenerCounts()).toEqual({ audio: 0, played: 0, dtmf: 0, hangup: 0, detach: 0, 'party-audio': 0 });
  });
});
