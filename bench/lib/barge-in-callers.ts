import { energyDb } from '../../src/speech/audio.js';
import { energyBoundaries, type Clip } from '../../test/speech/helpers.js';

/**
 * The barge-in bench's callers, shared with its offline replay (greeting-replay.ts) so that both draw the same caller
 * and onset for each prompt.
 */
export interface CallerClip {
  /** 16 kHz, at its natural level */
  pcm: Int16Array;
  /** the clip's speech boundary (35 % of its range), ms */
  onsetMs: number;
  /** where the caller becomes audible on the line (audibleOnsetMs), ms */
  audibleMs: number;
}

const FULL_SCALE_DB = 20 * Math.log10(32768);

/** The shared clips after the six bot voices are the callers. */
export function callerClips(clips: Clip[]): CallerClip[] {
  return clips.slice(6).map((c) => ({
    pcm: c.pcm,
    onsetMs: energyBoundaries(c.pcm).startMs,
    audibleMs: audibleOnsetMs(c.pcm),
  }));
}

/**
 * Prompt `rand`'s caller, and where they start in the call: 0.4-2 s into the prompt (which starts `leadMs` into the
 * call), at least a second before it would end. `onsetMs`: the caller's speech onset in the call, the earlier of the
 * clip's boundary and where it becomes audible. Takes two draws of `rand`, in this order.
 */
export function drawCaller(
  rand: () => number,
  callers: CallerClip[],
  promptMs: number,
  leadMs = 0,
): { caller: CallerClip; offsetMs: number; onsetMs: number } {
  const caller = callers[Math.floor(rand() * callers.length)]!;
  const offsetMs = leadMs + 400 + rand() * Math.min(1600, Math.max(0, promptMs - 1400 - caller.onsetMs));
  return { caller, offsetMs, onsetMs: offsetMs + Math.min(caller.onsetMs, caller.audibleMs) };
}

/**
 * Where the caller becomes audible on the line: the first of three 10 ms blocks in a row at -40 dBFS or more and
 * 12 dB above the clip's own background (its 10th percentile). The clips' 35 %-of-range boundary can come later,
 * after soft first sounds a listener already hears as speech: latency counts from the earlier of the two.
 */
function audibleOnsetMs(pcm: Int16Array): number {
  const block = 160;
  const dbs: number[] = [];
  for (let at = 0; at + block <= pcm.length; at += block) dbs.push(energyDb(pcm, at, block) - FULL_SCALE_DB);
  const background = [...dbs].sort((a, b) => a - b)[Math.floor(dbs.length * 0.1)] ?? -90;
  const threshold = Math.max(-40, background + 12);
  for (let i = 0; i + 2 < dbs.length; i++) {
    if (dbs[i]! >= threshold && dbs[i + 1]! >= threshold && dbs[i + 2]! >= threshold) return i * 10;
  }
  return energyBoundaries(pcm).startMs;
}
