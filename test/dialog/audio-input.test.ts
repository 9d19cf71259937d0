import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AudioInput } from '../../src/dialog/audio-input.js';
import { dialogMetrics } from '../../src/dialog/metrics.js';
import { ScriptedVad } from '../../src/dialog/testing/fake-vad.js';
import { MemoryLeg } from '../../src/dialog/testing/memory-leg.js';
import type { Asr, AsrResult } from '../../src/speech/types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/wait.js';

/** Counts the 16 kHz audio each utterance gets; its final text says how many ms that was. */
class CountingAsr implements Asr {
  readonly heardMs: number[] = [];
  async *transcribe(audio: AsyncIterable<Int16Array>): AsyncIterable<AsrResult> {
    let samples = 0;
    for await (const chunk of audio) samples += chunk.length;
    this.heardMs.push(samples / 16);
    const timings = { audioMs: samples / 16, processingMs: 0, queueMs: 0 };
    yield { text: `heard ${samples / 16}`, confidence: 1, language: 'en', final: true, timings };
  }
  async close(): Promise<void> {}
}

/** Says a partial at once, then never finishes until the recognition is cancelled (a stuck recogniser). */
class StuckAsr implements Asr {
  cancelled = 0;
  async *transcribe(audio: AsyncIterable<Int16Array>, opts?: { signal?: AbortSignal }): AsyncIterable<AsrResult> {
    const timings = { audioMs: 0, processingMs: 0, queueMs: 0 };
    yield { text: 'my bill', confidence: 0.6, language: 'en', final: false, timings };
    for await (const chunk of audio) void chunk; // the capture stream ends at speechEnd
    await new Promise<void>((resolve) => opts?.signal?.addEventListener('abort', () => resolve(), { once: true }));
    this.cancelled++;
  }
  async close(): Promise<void> {}
}

function setup(opts: { asr?: Asr; clock?: FakeClock } = {}) {
  const leg = new MemoryLeg();
  const vad = new ScriptedVad();
  const asr = new CountingAsr();
  const utterances: string[] = [];
  const milestones: string[] = [];
  const controller = new AbortController();
  const input = new AudioInput({
    leg,
    vad,
    asr: opts.asr ?? asr,
    logger: pino({ level: 'silent' }),
    metrics: dialogMetrics(new Registry()),
    signal: controller.signal,
    preRollMs: 300,
    minSpeechMs: 200,
    asrTimeoutMs: 5000,
    ...(opts.clock ? { timers: opts.clock } : {}),
    hooks: {
      clockMs: () => 0,
      activePrompt: () => null,
      onInterruption: () => undefined,
      onUtterance: (u) => utterances.push(`${u.text}${u.via ? ` (${u.via})` : ''}`),
      onMilestone: (m) => milestones.push(m.step),
    },
  });
  input.start();
  const frames = (n: number) => {
    for (let i = 0; i < n; i++) leg.feed(new Int16Array(leg.samplesPerInputFrame).fill(1000));
  };
  const settled = (count: number) => waitFor(() => utterances.length >= count, 5000, `${count} utterance(s)`);
  return { vad, asr, frames, utterances, milestones, settled, close: () => input.close() };
}

describe('AudioInput: what each utterance gives the recogniser', () => {
  it('starts up to 1.1 s before a late speechStart (Silero reacts up to ~1 s after the onset)', async () => {
    const t = setup();
    t.frames(100); // 2 s of audio before the VAD says anything
    t.vad.emit({ type: 'speechStart', atMs: 2000 });
    t.frames(1); // speechStart comes out with this frame
    t.frames(24);
    t.vad.emit({ type: 'speechEnd', atMs: 2520, startMs: 1200, endMs: 2520, audio: new Int16Array(0) });
    t.frames(1);
    await t.settled(1);
    // pre-roll (300 + max(200, 800) ms, counted to the frame that brought speechStart) + 25 frames after it
    expect(t.asr.heardMs[0]).toBeGreaterThanOrEqual(1100 + 25 * 20 - 40);
    expect(t.asr.heardMs[0]).toBeLessThanOrEqual(1100 + 25 * 20 + 40);
    await t.close();
  });

  it('never gives the next utterance audio from before the previous one ended', async () => {
    const t = setup();
    t.frames(60);
    t.vad.emit({ type: 'speechStart', atMs: 1200 });
    t.frames(30);
    // the VAD ended the turn 500 ms after the speech: the utterance's audio ends 150 ms after the speech
    t.vad.emit({ type: 'speechEnd', atMs: 1800, startMs: 600, endMs: 1300, audio: new Int16Array(0) });
    t.frames(1);
    t.frames(10);
    t.vad.emit({ type: 'speechStart', atMs: 2020 });
    t.frames(1);
    t.vad.emit({ type: 'speechEnd', atMs: 2040, startMs: 2000, endMs: 2040, audio: new Int16Array(0) });
    t.frames(1);
    await t.settled(2);
    // second utterance: from 150 ms after the first one's speech (the 350 ms of silence after that and
    // the 11 frames since), not the full 1.1 s pre-roll
    const [second, first] = [...t.asr.heardMs].sort((a, b) => a - b);
    expect(first).toBeGreaterThanOrEqual(1100 + 30 * 20 - 40);
    expect(second).toBeGreaterThanOrEqual(350 + 11 * 20 + 20 - 40);
    expect(second).toBeLessThanOrEqual(350 + 11 * 20 + 20 + 40);
    await t.close();
  });
});

describe('AudioInput: the ASR final timeout runs on the injected clock', () => {
  it('waits exactly asrTimeoutMs on the call clock after speechEnd, then takes the last partial as the turn', async () => {
    const clock = new FakeClock();
    const asr = new StuckAsr();
    const t = setup({ asr, clock });
    t.frames(10);
    t.vad.emit({ type: 'speechStart', atMs: 200 });
    t.frames(20);
    t.vad.emit({ type: 'speechEnd', atMs: 600, startMs: 0, endMs: 600, audio: new Int16Array(0) });
    t.frames(1);
    await waitFor(() => t.milestones.includes('speech-end') && clock.pending === 1, 5000, 'the grace timer armed');
    clock.advance(4999); // real time does not count: only the call's clock
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.utterances).toEqual([]);
    clock.advance(1);
    await t.settled(1);
    expect(t.utterances).toEqual(['my bill (asrGrace)']);
    expect(asr.cancelled).toBe(1); // the late recognition was cancelled
    expect(clock.pending).toBe(0);
    await t.close();
  });
});
