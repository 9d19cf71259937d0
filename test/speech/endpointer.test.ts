import { describe, expect, it } from 'vitest';
import { vadConfig } from '../../src/speech/config.js';
import type { VadEvent } from '../../src/speech/types.js';
import { Endpointer, WINDOW, type WindowClassifier } from '../../src/speech/vad/endpointer.js';
import { concat, whiteNoise } from './helpers.js';

type End = Extract<VadEvent, { type: 'speechEnd' }>;
const WINDOW_MS = (WINDOW * 1000) / 16_000; // 32

/**
 * A classifier like Silero on the phone line: it says "speech" `lag` windows after the audio turns loud and
 * keeps saying it `hangover` windows after the audio turns quiet.
 */
class LaggingClassifier implements WindowClassifier {
  private loud: boolean[] = [];
  constructor(
    private readonly lag: number,
    private readonly hangover: number,
    private readonly loudRms = 0.02,
  ) {}
  isSpeech(window: Float32Array): boolean {
    let sum = 0;
    for (const s of window) sum += s * s;
    this.loud.push(Math.sqrt(sum / window.length) >= this.loudRms);
    const now = this.loud.length - 1;
    for (let i = now - this.lag; i >= Math.max(0, now - this.lag - this.hangover); i--) if (this.loud[i]) return true;
    return false;
  }
  reset(): void {
    this.loud = [];
  }
  close(): void {}
}

const speech = (ms: number, seed = 3) => whiteNoise(ms, 8000, 16_000, seed);
const quiet = (ms: number) => whiteNoise(ms, 20, 16_000, 5);

function run(pcm: Int16Array, opts: { eot?: number; lag?: number; hangover?: number } = {}): VadEvent[] {
  const cfg = vadConfig.parse({ modelPath: 'unused.onnx', endOfTurnSilenceMs: opts.eot ?? 500 });
  const classifier = new LaggingClassifier(opts.lag ?? 10, opts.hangover ?? 15);
  const ep = new Endpointer(cfg, classifier, { onReject: () => undefined });
  const events: VadEvent[] = [];
  for (let i = 0; i < pcm.length; i += 320) events.push(...ep.push(pcm.subarray(i, i + 320)));
  return events;
}
const ends = (events: VadEvent[]) => events.filter((e): e is End => e.type === 'speechEnd');

describe('Endpointer: end of turn counted from the last voiced window', () => {
  it.each([300, 500, 800])(
    'ends the turn %i ms after the last voiced frame (within two windows), whatever the classifier lag',
    (eot) => {
      // 992 ms = 31 windows of speech from 1024 ms on: the last voiced window ends at 2016 ms
      const lastVoicedMs = 1024 + 992;
      for (const [lag, hangover] of [
        [0, 0],
        [10, 15],
        [12, 30],
      ] as const) {
        const events = run(concat(quiet(1024), speech(992), quiet(3000)), { eot, lag, hangover });
        const found = ends(events);
        expect(found, `lag ${lag}, hangover ${hangover}`).toHaveLength(1);
        const end = found[0]!;
        expect(end.endMs).toBeGreaterThanOrEqual(lastVoicedMs - WINDOW_MS);
        expect(end.endMs).toBeLessThanOrEqual(lastVoicedMs + WINDOW_MS);
        expect(end.atMs - (lastVoicedMs + eot)).toBeGreaterThanOrEqual(0);
        expect(end.atMs - (lastVoicedMs + eot)).toBeLessThanOrEqual(2 * WINDOW_MS);
        expect(Math.abs(end.startMs - 1024)).toBeLessThanOrEqual(WINDOW_MS);
        // the utterance audio is the speech plus pre-roll and a short tail, not the end-of-turn silence
        expect(end.audio.length / 16).toBeLessThanOrEqual(300 + 992 + 150 + 2 * WINDOW_MS);
      }
    },
  );

  it('does not open a new turn while the classifier still says "speech" after the end', () => {
    // a long hangover: the classifier says "speech" for 1.6 s after the audio went quiet
    const events = run(concat(quiet(1000), speech(1000), quiet(3000)), { eot: 300, lag: 10, hangover: 50 });
    expect(events.map((e) => e.type).sort()).toEqual(['interruption', 'speechEnd', 'speechStart']);
    expect(events.at(-1)?.type).toBe('speechEnd');
  });

  it('hears the caller again right after an end, even while the classifier hangover lasts', () => {
    const events = run(concat(quiet(1000), speech(1000), quiet(400), speech(1000, 9), quiet(3000)), {
      eot: 300,
      hangover: 40,
    });
    const found = ends(events);
    expect(found).toHaveLength(2);
    expect(Math.abs(found[1]!.endMs - 3400)).toBeLessThanOrEqual(WINDOW_MS);
  });

  it('keeps one utterance across a pause shorter than endOfTurnSilenceMs', () => {
    const pcm = concat(quiet(1000), speech(800), quiet(350), speech(800, 9), quiet(2000));
    const found = ends(run(pcm, { eot: 500 }));
    expect(found).toHaveLength(1);
    expect(Math.abs(found[0]!.startMs - 1000)).toBeLessThanOrEqual(WINDOW_MS);
    expect(Math.abs(found[0]!.endMs - 2950)).toBeLessThanOrEqual(WINDOW_MS);
    // and splits it when the pause is longer
    expect(ends(run(pcm, { eot: 300 }))).toHaveLength(2);
  });

  it('still ends the turn on a line too noisy for the energy to fall: by the classifier', () => {
    // after the speech the line carries noise only 10 dB below it; the classifier calls it silence
    const noisy = whiteNoise(3000, 2500, 16_000, 13);
    const classifier = new LaggingClassifier(0, 0, 0.1); // "speech" for the speech only
    const cfg = vadConfig.parse({ modelPath: 'unused.onnx', endOfTurnSilenceMs: 500 });
    const ep = new Endpointer(cfg, classifier, { onReject: () => undefined });
    const pcm = concat(quiet(1000), speech(1024), noisy);
    const out: VadEvent[] = [];
    for (let i = 0; i < pcm.length; i += 320) out.push(...ep.push(pcm.subarray(i, i + 320)));
    const found = ends(out);
    expect(found).toHaveLength(1);
    expect(found[0]!.atMs).toBeGreaterThanOrEqual(2024 + 500);
    expect(found[0]!.atMs).toBeLessThanOrEqual(2024 + 500 + 2 * WINDOW_MS);
  });
});
