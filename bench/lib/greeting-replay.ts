import { mulberry32 } from '../../src/core/random.js';
import { EchoPath } from '../../src/media/echo-path.js';
import { resample } from '../../src/media/resampler.js';
import { energyDb } from '../../src/speech/audio.js';
import type { EchoConfig } from '../../src/speech/echo/config.js';
import { vadConfig } from '../../src/speech/config.js';
import { EchoStage } from '../../src/speech/echo/echo-stage.js';
import { OnsetCue } from '../../src/speech/echo/onset-cue.js';
import { level, loadClips } from '../../test/speech/helpers.js';
import { callerClips, drawCaller } from './barge-in-callers.js';

/**
 * The barge-in bench's greetings replayed offline through the real echo stage and the fast onset cue alone: no VAD, no
 * call core, no media-time stamps (the streams are lined up by counting). SIMULATED, like the bench's line. It is the
 * quick way to see where the greeting's callers are heard (seconds per line instead of minutes) and comes within a few
 * greetings of the bench, which stays the measure (docs/barge-in.md quotes both, each named). The prompts, callers,
 * onsets and lines are the bench's (the cue needs the configured `speech.vad.interruptionMs`, 100 ms): prompt `i` is
 * bot voice `i % 6` at -18 dBFS, its caller and onset drawn from the same seed, speech onset 0.4-2 s into the prompt
 * and at least 1 s before its end.
 */
export interface ReplayOptions {
  delayMs: number;
  erlDb: number;
  greetings: number;
  /** the echo alone: counts cues and echo let through instead of callers */
  noCaller?: boolean;
  /** the bot's first frame goes out this long after the line starts (the call core's first `played` stamp: 40 ms) */
  firstPlayedMs?: number;
  echo: EchoConfig;
}

export interface CallerReplay {
  /** onset → cue per greeting whose caller was cued after their onset, ms */
  latencies: number[];
  /** greetings whose caller was cued more than LATE_MS after their onset */
  late: number[];
  /** greetings with no cue, or a cue before the caller's onset */
  missed: number[];
}

export interface EchoReplay {
  /** greetings where the cue fired on the echo alone */
  cued: number[];
  /** greetings where the echo reached the VAD above -45 dBFS for 40 ms or more in a row */
  leaked: number[];
}

const RATE = 8000;
const FRAME = 160;
const FULL_SCALE_DB = 20 * Math.log10(32768);
/** a 10 ms block of the stage's output above this reached the VAD at a level it hears */
const LEAK_DBFS = -45;
const LEAK_BLOCKS = 4;
/** the barge-in target: the bot silent within this of the caller's onset */
const LATE_MS = 300;

export function replayGreetings(opts: ReplayOptions & { noCaller: true }): EchoReplay;
export function replayGreetings(opts: ReplayOptions & { noCaller?: false }): CallerReplay;
export function replayGreetings(opts: ReplayOptions): CallerReplay | EchoReplay {
  const clips = loadClips();
  const bots = clips.slice(0, 6).map((c) => resample(level(c.pcm, -18), 16_000, RATE));
  const callers = callerClips(clips);
  const firstPlayed = Math.round((opts.firstPlayedMs ?? 40) / 20);
  const { interruptionMs } = vadConfig.parse({});
  const result: CallerReplay & EchoReplay = { latencies: [], late: [], missed: [], cued: [], leaked: [] };
  for (let i = 0; i < opts.greetings; i++) {
    const rand = mulberry32(1000 * i + opts.delayMs + opts.erlDb);
    const bot = bots[i % bots.length]!;
    const promptMs = (bot.length / RATE) * 1000;
    const { caller, offsetMs, onsetMs: onset } = drawCaller(rand, callers, promptMs);
    const line = new Int16Array(Math.round(((promptMs + 2500) * RATE) / 1000));
    const from = Math.round((offsetMs * RATE) / 1000);
    if (!opts.noCaller) line.set(resample(caller.pcm, 16_000, RATE).subarray(0, line.length - from), from);
    const { delayMs, erlDb } = opts;
    const echo = new EchoPath({ delayMs, erlDb, noiseDbfs: -60, mulaw: true, seed: i + 1, sampleRate: RATE });
    // as the call core: no stage with the echo handling off, no cue without it or with `fastOnset` off
    const stage = opts.echo.enabled ? new EchoStage(opts.echo, RATE, RATE) : null;
    const cue = stage && opts.echo.fastOnset ? new OnsetCue(RATE, interruptionMs, () => stage.settled) : null;
    let cueAt: number | null = null;
    let run = 0;
    let worst = 0;
    for (let f = 0; f * FRAME < line.length; f++) {
      const mic = echo.take(FRAME, line.subarray(f * FRAME, (f + 1) * FRAME));
      const at = (f - firstPlayed) * FRAME;
      const played = at < 0 ? new Int16Array(0) : bot.subarray(at, at + FRAME);
      if (played.length > 0) {
        echo.pushBot(played);
        stage?.reference(played);
      }
      const out = stage ? stage.process(mic) : mic;
      if (cue?.push(out) && cueAt === null) cueAt = (f + 1) * 20;
      for (let b = 0; b < FRAME; b += FRAME / 2) {
        run = energyDb(out, b, FRAME / 2) - FULL_SCALE_DB > LEAK_DBFS ? run + 1 : 0;
        worst = Math.max(worst, run);
      }
    }
    if (opts.noCaller) {
      if (cueAt !== null) result.cued.push(i);
      if (worst >= LEAK_BLOCKS) result.leaked.push(i);
    } else if (cueAt === null || cueAt < onset) result.missed.push(i);
    else {
      result.latencies.push(cueAt - onset);
      if (cueAt - onset > LATE_MS) result.late.push(i);
    }
  }
  const { cued, leaked, ...heard } = result;
  return opts.noCaller ? { cued, leaked } : heard;
}
