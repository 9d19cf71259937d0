import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vadConfig } from '../../src/speech/config.js';
import type { VadEvent } from '../../src/speech/types.js';
import { VadCapacityError, createVadFactory, type SileroVadFactory } from '../../src/speech/vad/silero.js';
import type { ThreadedVad } from '../../src/speech/vad/silero-threads.js';
import { VAD_MODEL, loadClips, padWithBackground, telephonePath, type Clip } from './helpers.js';

const logger = pino({ level: 'silent' });
const FRAME = 320;
const strip = (events: VadEvent[]) => events.map((e) => ({ ...e, audio: 'audio' in e ? e.audio.length : 0 }));

/** In-thread reference: every event comes back from the push that caused it. */
function runSync(factory: SileroVadFactory, pcm: Int16Array): VadEvent[] {
  const vad = factory.create();
  const events: VadEvent[] = [];
  for (let i = 0; i < pcm.length; i += FRAME) events.push(...vad.push(pcm.subarray(i, i + FRAME)));
  vad.close();
  return events;
}

/** As a phone line feeds it: the event loop runs between frames, so decisions come back from the worker. */
async function runThreaded(vad: ThreadedVad, pcm: Int16Array): Promise<VadEvent[]> {
  const events: VadEvent[] = [];
  for (let i = 0; i < pcm.length; i += FRAME) {
    events.push(...vad.push(pcm.subarray(i, i + FRAME)));
    if ((i / FRAME) % 25 === 24) await vad.settled();
  }
  await vad.settled();
  events.push(...vad.push(new Int16Array(0)));
  return events;
}

describe('Silero VAD with inference in worker threads (speech.vad.inferenceThreads)', () => {
  let sync: SileroVadFactory;
  let threaded: SileroVadFactory;
  let clips: Clip[];

  beforeAll(() => {
    const cfg = vadConfig.parse({ modelPath: VAD_MODEL, prewarmSessions: 2 });
    sync = createVadFactory(cfg, logger, new Registry());
    threaded = createVadFactory(cfg, logger, new Registry(), 3, { inferenceThreads: 2 });
    clips = loadClips().slice(0, 4);
  });
  afterAll(() => threaded.close());

  it('gives the same events at the same audio positions as inference on the event loop', async () => {
    expect(threaded.inferenceThreads).toBe(2);
    let compared = 0;
    for (const clip of clips) {
      const input = telephonePath(padWithBackground(clip.pcm, 1000, 1500));
      const reference = strip(runSync(sync, input));
      const vad = threaded.create() as ThreadedVad;
      const events = strip(await runThreaded(vad, input));
      vad.close();
      expect(reference.length, clip.name).toBeGreaterThan(0);
      expect(events, clip.name).toEqual(reference);
      compared++;
    }
    expect(compared).toBe(4);
  });

  it('runs no inference on the calling thread: a whole clip pushed at once decides nothing until the loop runs', async () => {
    const input = telephonePath(padWithBackground(clips[0]!.pcm, 1000, 1500));
    const vad = threaded.create() as ThreadedVad;
    const immediate: VadEvent[] = [];
    for (let i = 0; i < input.length; i += FRAME) immediate.push(...vad.push(input.subarray(i, i + FRAME)));
    expect(immediate).toEqual([]);
    expect(vad.inFlight).toBe(Math.floor(input.length / 512));
    await vad.settled();
    const later = vad.push(new Int16Array(0));
    expect(strip(later)).toEqual(strip(runSync(sync, input)));
    vad.close();
  });

  it('never builds more sessions than the cap and releases every session on hangup', async () => {
    const a = threaded.create() as ThreadedVad;
    const b = threaded.create() as ThreadedVad;
    const c = threaded.create() as ThreadedVad;
    expect(threaded.pool.inUse).toBe(3);
    expect(threaded.pool.size).toBe(3);
    expect(() => threaded.create()).toThrow(VadCapacityError);
    for (const v of [a, b, c]) v.close();
    expect(threaded.pool.inUse).toBe(0);
    expect(threaded.pool.idleCount).toBe(3);
    // a closed VAD counts input as rejected and returns nothing
    expect(a.push(new Int16Array(FRAME))).toEqual([]);
  });

  it('a reused session decides exactly as a fresh one after a hangup mid-utterance (reset reaches the worker in order)', async () => {
    const [first, second] = clips as [Clip, Clip];
    const one = createVadFactory(
      vadConfig.parse({ modelPath: VAD_MODEL, prewarmSessions: 1 }),
      logger,
      new Registry(),
      1,
      { inferenceThreads: 1 },
    );
    try {
      const dirty = one.create() as ThreadedVad;
      // hang up with windows still in flight and the LSTM mid-speech
      const half = telephonePath(padWithBackground(first.pcm, 1000, 0)).subarray(0, 16_000 * 2);
      for (let i = 0; i < half.length; i += FRAME) dirty.push(half.subarray(i, i + FRAME));
      dirty.close();
      const input = telephonePath(padWithBackground(second.pcm, 1000, 1500));
      const reused = one.create() as ThreadedVad;
      expect(one.pool.size).toBe(1);
      const events = strip(await runThreaded(reused, input));
      reused.close();
      expect(events.length).toBeGreaterThan(0);
      expect(events).toEqual(strip(runSync(sync, input)));
    } finally {
      await one.close();
    }
  });
});
