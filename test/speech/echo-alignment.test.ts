import { describe, expect, it } from 'vitest';
import { EchoPath } from '../../src/media/echo-path.js';
import { resample } from '../../src/media/resampler.js';
import { echoConfig } from '../../src/speech/echo/config.js';
import { EchoStage } from '../../src/speech/echo/echo-stage.js';
import { MediaTimeline } from '../../src/speech/echo/timeline.js';
import { concat, energy, loadClips } from './helpers.js';

/**
 * The echo stage lines the bot's reference up with the caller's audio by the leg's media-time stamps, not by the
 * order the two arrive in. A simulated line where the far end plays the bot's frames at their send slots (its
 * jitter buffer absorbs the bursts) and sends the echo on its own 20 ms clock; the frames reach the stage the way a
 * leg delivers them on two timers: in step, or with one side stalled (its frames late, in a burst), or with a
 * caller frame lost.
 */
const RATE = 8000;
const FRAME = 160;
const FRAME_MS = 20;
const clips = loadClips();
/** the bot: three clips back to back (about 9 s) at the line's rate, from 0.4 s into the call */
const BOT_FROM = 20;
const BOT = resample(concat(clips[0]!.pcm, clips[1]!.pcm, clips[2]!.pcm), 16_000, RATE);
const CALLER = resample(clips[5]!.pcm, 16_000, RATE);
/** the caller talks over the bot from here (frame index), to check the stage still lets them through */
const CALLER_FROM = 350;
/** speech-level blocks: what the VAD would hear (-45 dBFS) */
const SPEECH = (32768 * 10 ** (-45 / 20)) ** 2;

interface Delivery {
  kind: 'ref' | 'mic';
  frame: number;
  /** when the leg hands it on (ms): decides the order */
  deliverAt: number;
}

interface Disturbance {
  /** which side's timer stalls: its frames from `atMs` on come only when the stall ends, all at once */
  stall?: { side: 'send' | 'receive'; atMs: number; ms: number };
  /** caller frames that never arrive */
  lost?: number[];
}

interface Result {
  /** what the VAD hears, frame by frame (lost frames: silence) */
  heard: Int16Array;
  /** the caller's own audio, where the line carried it */
  caller: Int16Array;
  stage: EchoStage;
}

/**
 * Bot frame k is due in slot k (k × 20 ms) and goes out then, or when a stalled send timer catches up; the far end
 * plays each frame when it gets it, right after the one before at the earliest (it cannot play a frame before it
 * came). Caller frame f carries the line's echo of what the far end played before it (plus the caller from
 * CALLER_FROM), stamped f × 20 ms. The bot sends nothing while silent (jambonz, the browser), so the stamps are the
 * only clue to where its audio begins. `stamped: false` hands the stage the same frames in the same order without
 * stamps: it counts (the old alignment).
 */
const frames = () => BOT_FROM + Math.floor(BOT.length / FRAME);

function run(cancel: boolean, stamped: boolean, d: Disturbance, withCaller = false): Result {
  const frames = BOT_FROM + Math.floor(BOT.length / FRAME);
  const bot = (f: number) => (f < BOT_FROM ? null : BOT.subarray((f - BOT_FROM) * FRAME, (f - BOT_FROM + 1) * FRAME));
  const delayed = (side: 'send' | 'receive', slot: number) => {
    const s = d.stall;
    if (!s || s.side !== side || slot < s.atMs || slot >= s.atMs + s.ms) return slot;
    return s.atMs + s.ms;
  };
  // what the far end plays, frame slot by frame slot: each bot frame from when it was sent, never on top of another
  const far = new Int16Array((frames + 40) * FRAME);
  const sentAt: number[] = [];
  let farEnd = 0;
  for (let k = BOT_FROM; k < frames; k++) {
    sentAt[k] = delayed('send', k * FRAME_MS);
    const from = Math.max(Math.round(sentAt[k]! / FRAME_MS) * FRAME, farEnd);
    far.set(bot(k)!, from);
    farEnd = from + FRAME;
  }
  const line = new EchoPath({ delayMs: 150, erlDb: 6, mulaw: true, noiseDbfs: -60, seed: 7, sampleRate: RATE });
  const mic: Int16Array[] = [];
  const caller = new Int16Array(frames * FRAME);
  for (let f = 0; f < frames; f++) {
    const own = new Int16Array(FRAME);
    if (withCaller && f >= CALLER_FROM)
      own.set(CALLER.subarray((f - CALLER_FROM) * FRAME, (f - CALLER_FROM + 1) * FRAME));
    caller.set(own, f * FRAME);
    mic.push(line.take(FRAME, own));
    line.pushBot(far.subarray(f * FRAME, (f + 1) * FRAME));
  }
  const deliveries: Delivery[] = [];
  for (let f = 0; f < frames; f++) {
    // in step, a bot frame goes out just before the caller frame of the same slot comes in
    if (bot(f)) deliveries.push({ kind: 'ref', frame: f, deliverAt: sentAt[f]! + 0.1 });
    if (!d.lost?.includes(f))
      deliveries.push({ kind: 'mic', frame: f, deliverAt: delayed('receive', (f + 1) * FRAME_MS) });
  }
  deliveries.sort((a, b) => a.deliverAt - b.deliverAt);
  const stage = new EchoStage(echoConfig.parse({ cancel }), RATE, RATE);
  const heard = new Int16Array(frames * FRAME);
  for (const { kind, frame } of deliveries) {
    if (kind === 'ref') stage.reference(bot(frame)!, stamped ? sentAt[frame] : undefined);
    else heard.set(stage.process(mic[frame]!, stamped ? frame * FRAME_MS : undefined), frame * FRAME);
  }
  return { heard, caller, stage };
}

/** 10 ms blocks of speech-level audio the VAD heard in frames `from..to` (only echo is on the line there) */
function echoBlocks(r: Result, from: number, to: number): number {
  let n = 0;
  for (let t = from * FRAME; t < to * FRAME; t += 80) if (energy(r.heard, t, t + 80) >= SPEECH) n++;
  return n;
}

/** share of the caller's speech blocks (above -35 dBFS) that reach the VAD within 6 dB of their own energy */
function callerShare(r: Result): number {
  let speech = 0;
  let passed = 0;
  for (let t = CALLER_FROM * FRAME; t + 80 <= Math.min(r.heard.length, CALLER_FROM * FRAME + CALLER.length); t += 80) {
    const own = energy(r.caller, t, t + 80);
    if (own < (32768 * 10 ** (-35 / 20)) ** 2) continue;
    speech++;
    if (energy(r.heard, t, t + 80) >= own / 4) passed++;
  }
  expect(speech).toBeGreaterThan(50);
  return passed / speech;
}

/** the bot has been talking for 2 s (the canceller converged) when the stall or loss comes */
const AT_MS = 2400;
const AFTER = Math.round(AT_MS / FRAME_MS);
/** echo-only frames are checked from 0.8 s into the bot's speech (the canceller's first convergence is over) to the caller */
const START = BOT_FROM + 40;
const END = CALLER_FROM;

describe('echo alignment by media time', () => {
  it('in step, the echo alone never reaches the VAD, stamped or counted (the baseline the cases below depart from)', () => {
    for (const cancel of [false, true]) {
      for (const stamped of [false, true]) {
        expect(echoBlocks(run(cancel, stamped, {}), START, END), `cancel ${cancel} stamped ${stamped}`).toBe(0);
      }
    }
  });

  it.each([100, 200, 300])(
    'a %i ms stall of the send timer (the bot frames go out late, in a burst) moves nothing',
    (ms) => {
      const stall = { side: 'send' as const, atMs: AT_MS, ms };
      for (const cancel of [false, true]) {
        const r = run(cancel, true, { stall });
        expect(echoBlocks(r, START, END), `cancel ${cancel}`).toBe(0);
        if (cancel) expect(r.stage.stats.cancellerDelayMs).toBe(170);
      }
    },
  );

  it.each([100, 300])('a %i ms stall on the receive side while the bot starts talking moves nothing', (ms) => {
    // the caller frames around the bot's first words come late: counted, the bot's first frames pair with caller
    // audio from before they were sent
    const stall = { side: 'receive' as const, atMs: BOT_FROM * FRAME_MS - 40, ms };
    for (const cancel of [false, true]) {
      const r = run(cancel, true, { stall });
      expect(echoBlocks(r, START, END), `cancel ${cancel}`).toBe(0);
      expect(r.stage.stats.delayMs).toBe(170);
    }
    if (ms === 300) expect(echoBlocks(run(false, false, { stall }), START, frames())).toBeGreaterThan(0);
  });

  it('lost caller frames leave their place empty: the echo stays aligned and the canceller converged', () => {
    const lost = [AFTER, AFTER + 40, AFTER + 41, AFTER + 90];
    for (const cancel of [false, true]) {
      const r = run(cancel, true, { lost });
      expect(echoBlocks(r, START, END), `cancel ${cancel}`).toBe(0);
      if (cancel) expect(r.stage.stats.cancellerDelayMs).toBe(170);
    }
    // counted, everything after the first loss pairs with the reference a frame later
    const counted = run(true, false, { lost });
    expect(echoBlocks(counted, START, END)).toBeGreaterThan(10);
    expect(counted.stage.stats.cancellerDelayMs).not.toBe(170);
  });

  it('after a 300 ms send stall, a caller talking over the echo still comes through the canceller', () => {
    const stall = { side: 'send' as const, atMs: AT_MS, ms: 300 };
    expect(callerShare(run(true, true, { stall }, true))).toBeGreaterThan(0.85);
  });
});

describe('MediaTimeline', () => {
  it('continues a stream whose stamps wander by rounding, and fills a pause of the bot with silence', () => {
    const t = new MediaTimeline(RATE, 500);
    const tone = new Int16Array(FRAME).fill(1000);
    t.reference(tone, 0);
    t.reference(tone, 20.4); // a pacer slot a little late: continues the stream
    t.reference(tone, 100); // the bot paused for 60 ms
    expect(t.caller(FRAME, 0).reference[0]).toBe(1000);
    expect(t.caller(FRAME, 20).reference[FRAME - 1]).toBe(1000);
    const pause = t.caller(3 * FRAME, 40).reference;
    expect(pause.every((s) => s === 0)).toBe(true);
    expect(t.caller(FRAME, 100).reference[0]).toBe(1000);
  });

  it('a caller frame stamped before the last one ended goes on where it ended once the bot has been heard', () => {
    const t = new MediaTimeline(RATE, 500);
    t.caller(FRAME, 0);
    // the leg's origin moved back before the bot said anything: the new stamps hold
    expect(t.caller(FRAME, 5).gap).toBeNull();
    t.reference(new Int16Array(FRAME).fill(1000), 25);
    // now a stamp 15 ms back would move the caller audio against the bot's: it goes on where the last frame ended
    // (back at 10 ms its first 15 ms would have been before the bot's frame)
    expect(t.caller(FRAME, 10).reference[0]).toBe(1000);
    // a frame that jumps ahead (45 ms ends at 65 ms, the next comes at 85 ms) leaves a gap holding the reference
    // of its time
    expect(t.caller(FRAME, 85).gap?.reference.length).toBe(RATE * 0.04);
  });
});
