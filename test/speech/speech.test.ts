import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { mulawDecode } from '../../src/media/g711.js';
import { validate } from '../../src/config/load.js';
import { createSpeech, ttsToMulawFrames } from '../../src/speech/index.js';
import type { AsrResult, VadEvent } from '../../src/speech/types.js';
import { STUB_WHISPER, VAD_MODEL, whiteNoise } from './helpers.js';

describe('createSpeech (what the app wires)', () => {
  it('speaks, hears and transcribes one turn over an 8 kHz μ-law leg, then closes', async () => {
    const config = validate({
      speech: {
        vad: { modelPath: VAD_MODEL },
        asr: { whisperCpp: { modelPath: STUB_WHISPER, autoDownload: false, threads: 1 } },
      },
    });
    const speech = await createSpeech(config, pino({ level: 'silent' }), new Registry());
    try {
      // the bot's own voice, as the caller's phone would carry it back: 8 kHz μ-law frames, with line noise around
      const frames: Int16Array[] = [whiteNoise(500, 40, 8000)];
      for await (const f of ttsToMulawFrames(speech.tts, 'I would like to report a broken printer.')) {
        frames.push(mulawDecode(f));
      }
      frames.push(whiteNoise(1000, 40, 8000, 3));
      // inference runs in a worker thread (speech.vad.inferenceThreads defaults to 1): decisions come back while
      // the event loop runs, so the line yields between frames as a real one does
      expect(speech.vad.inferenceThreads).toBe(1);
      const vad = speech.vad.create({ sampleRate: 8000 }) as ReturnType<typeof speech.vad.create> & {
        settled(): Promise<void>;
      };
      const events: VadEvent[] = [];
      for (const f of frames) {
        for (let i = 0; i < f.length; i += 160) events.push(...vad.push(f.subarray(i, i + 160)));
        await vad.settled();
      }
      events.push(...vad.push(new Int16Array(0)));
      vad.close();
      const ends = events.filter((e) => e.type === 'speechEnd');
      expect(events[0]?.type).toMatch(/speechStart|interruption/);
      expect(ends.length).toBeGreaterThanOrEqual(1);
      const results: AsrResult[] = [];
      for (const end of ends) {
        if (end.type !== 'speechEnd') continue;
        async function* utterance(): AsyncGenerator<Int16Array> {
          yield (end as Extract<VadEvent, { type: 'speechEnd' }>).audio;
        }
        for await (const r of speech.asr.transcribe(utterance())) results.push(r);
      }
      expect(results.filter((r) => r.final)).toHaveLength(ends.length);
      expect(results.every((r) => r.language === 'en' && r.timings.audioMs > 0)).toBe(true);
    } finally {
      await speech.close();
    }
  });
});
