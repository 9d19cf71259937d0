import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../../src/media/resampler.js';
import { vadConfig } from '../../src/speech/config.js';
import type { VadEvent } from '../../src/speech/types.js';
import {
  SherpaVadPool,
  VadCapacityError,
  VadModelError,
  createVadFactory,
  type SileroVadFactory,
} from '../../src/speech/vad/silero.js';
import {
  VAD_MODEL,
  concat,
  energyBoundaries,
  loadClips,
  padWithBackground,
  silence,
  telephonePath,
  whiteNoise,
  type Clip,
} from './helpers.js';

const logger = pino({ level: 'silent' });
const PAD_MS = 1000;
const TAIL_MS = 1500;
const TOLERANCE_MS = 200;
const WINDOW_MS = 32;

type End = Extract<VadEvent, { type: 'speechEnd' }>;

function runVad(factory: SileroVadFactory, pcm: Int16Array, chunk = 320): VadEvent[] {
  const vad = factory.create();
  const events: VadEvent[] = [];
  for (let i = 0; i < pcm.length; i += chunk) events.push(...vad.push(pcm.subarray(i, i + chunk)));
  vad.close();
  return events;
}

describe('Silero VAD through the telephone path', () => {
  let factory: SileroVadFactory;
  let metrics: Registry;
  let clips: Clip[];

  beforeAll(() => {
    metrics = new Registry();
    factory = createVadFactory(vadConfig.parse({ modelPath: VAD_MODEL }), logger, metrics);
    clips = loadClips();
  });

  it('finds the speech in every shared clip with boundaries within 200 ms of the energy reference', () => {
    expect(clips.length).toBeGreaterThanOrEqual(10);
    for (const clip of clips) {
      const ref = energyBoundaries(clip.pcm);
      const events = runVad(factory, telephonePath(padWithBackground(clip.pcm, PAD_MS, TAIL_MS)));
      const ends = events.filter((e): e is End => e.type === 'speechEnd');
      const starts = events.filter((e) => e.type === 'speechStart');
      expect(ends.length, clip.name).toBeGreaterThanOrEqual(1);
      expect(starts.length, clip.name).toBe(ends.length);
      const first = ends[0] as End;
      const last = ends[ends.length - 1] as End;
      expect(Math.abs(first.startMs - (ref.startMs + PAD_MS)), `${clip.name} start`).toBeLessThanOrEqual(TOLERANCE_MS);
      expect(Math.abs(last.endMs - (ref.endMs + PAD_MS)), `${clip.name} end`).toBeLessThanOrEqual(TOLERANCE_MS);
      for (const end of ends) {
        expect(end.endMs).toBeGreaterThan(end.startMs);
        expect(end.atMs).toBeGreaterThanOrEqual(end.endMs);
        // utterance audio covers the speech plus pre-roll, at 16 kHz
        expect(end.audio.length / 16).toBeGreaterThanOrEqual(end.endMs - end.startMs);
      }
      // every utterance is announced before it ends, and barge-in fires once per utterance
      expect(events.filter((e) => e.type === 'interruption').length, clip.name).toBe(ends.length);
      expect(events[0]?.type).not.toBe('speechEnd');
    }
  });

  it.each([300, 500])(
    'ends the turn %i ms after the last voiced frame (within two windows) on every clip cut after its speech',
    (eot) => {
      const ending = createVadFactory(
        vadConfig.parse({ modelPath: VAD_MODEL, endOfTurnSilenceMs: eot }),
        logger,
        new Registry(),
      );
      for (const clip of clips) {
        // the clip up to the end of its speech, then the line goes quiet: the last voiced frame is known
        const cutMs = energyBoundaries(clip.pcm).endMs;
        const input = concat(padWithBackground(clip.pcm.subarray(0, cutMs * 16), PAD_MS, 0), silence(TAIL_MS));
        const lastVoicedMs = PAD_MS + cutMs;
        const last = runVad(ending, telephonePath(input))
          .filter((e): e is End => e.type === 'speechEnd')
          .at(-1);
        expect(last, clip.name).toBeDefined();
        // the end of speech it reports (its last window within 25 dB of the loudest) is the reference's
        expect(Math.abs(last!.endMs - lastVoicedMs), `${clip.name} end`).toBeLessThanOrEqual(TOLERANCE_MS);
        // the turn ends endOfTurnSilenceMs after that end, however late the classifier reports silence
        expect(last!.atMs - last!.endMs, `${clip.name} end of turn`).toBeGreaterThanOrEqual(eot);
        expect(last!.atMs - last!.endMs, `${clip.name} end of turn`).toBeLessThanOrEqual(eot + 2 * WINDOW_MS);
        // and never later than that after the line went quiet
        expect(last!.atMs - lastVoicedMs, `${clip.name} end of turn`).toBeLessThanOrEqual(eot + 2 * WINDOW_MS);
      }
    },
  );

  it('reports nothing in 3 s of silence or of low white noise', () => {
    for (const input of [silence(3000), whiteNoise(3000, 300), telephonePath(whiteNoise(3000, 300))]) {
      expect(runVad(factory, input)).toEqual([]);
    }
  });

  it('gives the same events whatever the chunk sizes', () => {
    const clip = clips.find((c) => c.name.includes('2830-3980-0043')) ?? (clips[0] as Clip);
    const input = padWithBackground(clip.pcm, PAD_MS, TAIL_MS);
    const strip = (events: VadEvent[]) => events.map((e) => ({ ...e, audio: 'audio' in e ? e.audio.length : 0 }));
    const reference = strip(runVad(factory, input, 320));
    expect(reference.length).toBeGreaterThan(0);
    for (const chunk of [1, 7, 333, 512, 4096, input.length]) {
      expect(strip(runVad(factory, input, chunk)), `chunk ${chunk}`).toEqual(reference);
    }
  });

  it('never throws on bad input: drops it and counts it', async () => {
    const vad = factory.create();
    expect(vad.push(new Int16Array(0))).toEqual([]);
    expect(vad.push(new Float32Array([Number.NaN, Infinity]) as unknown as Int16Array)).toEqual([]);
    expect(vad.push(undefined as unknown as Int16Array)).toEqual([]);
    expect(vad.push(Buffer.from([1, 2, 3]) as unknown as Int16Array)).toEqual([]);
    expect(vad.push(new Int16Array(16_000 * 61))).toEqual([]); // over a minute in one push
    // full-scale square wave and clipping extremes are audio, not errors
    const harsh = new Int16Array(16_000).map((_, i) => (i % 2 ? 32767 : -32768));
    expect(() => vad.push(harsh)).not.toThrow();
    vad.close();
    expect(vad.push(new Int16Array(320))).toEqual([]);
    const text = await metrics.metrics();
    for (const reason of ['not-int16', 'oversize', 'closed']) {
      expect(text).toMatch(new RegExp(`voicebot_vad_rejected_input_total\\{reason="${reason}"\\} [1-9]`));
    }
  });

  it('accepts 8 kHz input by resampling it to 16 kHz (the model never sees 8 kHz)', () => {
    const clip = clips.find((c) => c.name.includes('4507-16021-0012')) ?? (clips[0] as Clip);
    const narrow = resample(padWithBackground(clip.pcm, PAD_MS, TAIL_MS), 16_000, 8_000);
    const vad = factory.create({ sampleRate: 8000 });
    const events: VadEvent[] = [];
    for (let i = 0; i < narrow.length; i += 160) events.push(...vad.push(narrow.subarray(i, i + 160)));
    const ref = energyBoundaries(clip.pcm);
    const end = events.find((e): e is End => e.type === 'speechEnd');
    expect(end).toBeDefined();
    expect(Math.abs((end as End).startMs - (ref.startMs + PAD_MS))).toBeLessThanOrEqual(TOLERANCE_MS);
    expect(() => factory.create({ sampleRate: 12_345 })).toThrow(/unsupported rate/);
  });

  it('splits an utterance longer than maxUtteranceMs', () => {
    const short = createVadFactory(
      vadConfig.parse({ modelPath: VAD_MODEL, maxUtteranceMs: 2000 }),
      logger,
      new Registry(),
    );
    const longest = clips.reduce((a, b) => (b.pcm.length > a.pcm.length ? b : a));
    const events = runVad(short, padWithBackground(longest.pcm, PAD_MS, TAIL_MS));
    const ends = events.filter((e): e is End => e.type === 'speechEnd');
    expect(ends.length).toBeGreaterThanOrEqual(Math.floor(longest.pcm.length / 16 / 2000));
    for (const end of ends) expect(end.endMs - end.startMs).toBeLessThanOrEqual(2000 + 32);
    expect(events.filter((e) => e.type === 'speechStart').length).toBe(ends.length);
  });

  it('reset() forgets a half-heard utterance', () => {
    const clip = clips[0] as Clip;
    const vad = factory.create();
    const input = padWithBackground(clip.pcm, PAD_MS, 0);
    vad.push(input.subarray(0, 16_000 * 2));
    expect(vad.speaking).toBe(true);
    vad.reset();
    expect(vad.speaking).toBe(false);
    expect(vad.push(silence(1000)).filter((e) => e.type === 'speechEnd')).toEqual([]);
    vad.close();
  });

  it('reuses a session after hangup and it decides exactly as a fresh one (no state from the last call)', () => {
    const pooled = createVadFactory(
      vadConfig.parse({ modelPath: VAD_MODEL, prewarmSessions: 1 }),
      logger,
      new Registry(),
    );
    const [first, second] = clips as [Clip, Clip];
    // the previous call hangs up mid-utterance: LSTM state and sherpa's buffer are dirty when it goes back
    const caller = pooled.create();
    caller.push(padWithBackground(first.pcm, PAD_MS, 0).subarray(0, 16_000 * 2));
    expect(caller.speaking).toBe(true);
    caller.close();
    const input = telephonePath(padWithBackground(second.pcm, PAD_MS, TAIL_MS));
    const reused = runVad(pooled, input);
    const fresh = runVad(
      createVadFactory(vadConfig.parse({ modelPath: VAD_MODEL, prewarmSessions: 1 }), logger, new Registry()),
      input,
    );
    expect(reused.length).toBeGreaterThan(0);
    expect(reused).toEqual(fresh);
  });
});

describe('Silero session pool', () => {
  const fakeSession = () => ({
    resets: 0,
    cleared: false,
    acceptWaveform: () => undefined,
    isDetected: () => false,
    isEmpty: () => true,
    pop: () => undefined,
    clear() {
      this.cleared = true;
    },
    reset() {
      this.resets++;
    },
  });

  it('builds a session only when none is idle, resets each on release, and never builds more than maxTotal', () => {
    let made = 0;
    const pool = new SherpaVadPool(() => (made++, fakeSession()), 3);
    pool.prewarm(5);
    expect([made, pool.idleCount]).toEqual([3, 3]);
    const calls = [pool.acquire(), pool.acquire(), pool.acquire()];
    expect(made).toBe(3);
    // a fourth concurrent call gets no session: admission control should have refused it
    expect(() => pool.acquire()).toThrow(VadCapacityError);
    for (const s of calls) pool.release(s);
    // none is dropped (a dropped session's native memory only goes when V8 happens to collect it)
    expect([pool.idleCount, pool.size]).toEqual([3, 3]);
    const sessions = calls as Array<ReturnType<typeof fakeSession>>;
    expect(sessions.map((s) => s.resets)).toEqual([1, 1, 1]);
    pool.acquire();
    expect(made).toBe(3);
  });
});

describe('VAD model checks (the process must stay up)', () => {
  it('refuses a missing model with the path and what to set', () => {
    const path = join(tmpdir(), 'no-such-dir', 'silero.onnx');
    expect(() => createVadFactory(vadConfig.parse({ modelPath: path }), logger, new Registry())).toThrow(VadModelError);
    expect(() => createVadFactory(vadConfig.parse({ modelPath: path }), logger, new Registry())).toThrow(
      /not found.*speech\.vad\.modelPath/,
    );
  });

  it('refuses a corrupt model file before sherpa-onnx can abort the process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vad-'));
    const path = join(dir, 'corrupt.onnx');
    writeFileSync(path, Buffer.alloc(200_000, 0x5a));
    expect(() => createVadFactory(vadConfig.parse({ modelPath: path }), logger, new Registry())).toThrow(
      /not an ONNX model/,
    );
  });
});
