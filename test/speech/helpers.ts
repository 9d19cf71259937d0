import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readWav } from '../../src/media/wav.js';
import { Resampler } from '../../src/media/resampler.js';
import { mulawDecode, mulawEncode } from '../../src/media/g711.js';
import { energyDb } from '../../src/speech/audio.js';
import { waitFor as sharedWaitFor } from '../helpers/wait.js';
import { AUDIO_DIR } from '../helpers/fixtures.js';

export { AUDIO_DIR, STUB_WHISPER, VAD_MODEL } from '../helpers/fixtures.js';

export interface Clip {
  name: string;
  pcm: Int16Array;
  transcript: string;
}

export function loadClips(): Clip[] {
  const transcripts = new Map(
    readFileSync(join(AUDIO_DIR, 'TRANSCRIPTS.tsv'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('\t') as [string, string]),
  );
  return readdirSync(AUDIO_DIR)
    .filter((f) => f.endsWith('.wav'))
    .sort()
    .map((name) => {
      const wav = readWav(readFileSync(join(AUDIO_DIR, name)));
      if (wav.sampleRate !== 16_000 || wav.channels !== 1) throw new Error(`${name}: expected 16 kHz mono`);
      return { name, pcm: wav.samples, transcript: transcripts.get(name) ?? '' };
    });
}

/** What a phone call does to the audio: 16 kHz → 8 kHz μ-law in 20 ms frames → back to 16 kHz. */
export function telephonePath(pcm16k: Int16Array): Int16Array {
  const down = new Resampler(16_000, 8_000);
  const up = new Resampler(8_000, 16_000);
  const out: Int16Array[] = [];
  for (let i = 0; i < pcm16k.length; i += 320) {
    const narrow = down.process(pcm16k.subarray(i, i + 320));
    out.push(up.process(mulawDecode(mulawEncode(narrow))));
  }
  out.push(up.process(mulawDecode(mulawEncode(down.flush()))), up.flush());
  const total = out.reduce((n, c) => n + c.length, 0);
  const joined = new Int16Array(total);
  let at = 0;
  for (const c of out) {
    joined.set(c, at);
    at += c.length;
  }
  return joined;
}

/**
 * Reference speech boundaries from the clean clip: 10 ms frames, background = 10th percentile of frame
 * energies, speech = runs of frames above background + 35 % of the (peak - background) range.
 */
export function energyBoundaries(pcm: Int16Array, rate = 16_000): { startMs: number; endMs: number } {
  const frame = rate / 100;
  const dbs: number[] = [];
  for (let i = 0; i + frame <= pcm.length; i += frame) dbs.push(energyDb(pcm, i, frame));
  const sorted = [...dbs].sort((a, b) => a - b);
  const floor = sorted[Math.floor(sorted.length * 0.1)] ?? 0;
  const peak = sorted[sorted.length - 1] ?? 0;
  const threshold = floor + 0.35 * (peak - floor);
  // a run, not a click: at least 6 of the 10 frames from here on are loud
  const loud = dbs.map((d) => (d >= threshold ? 1 : 0));
  const sustained = (i: number, dir: 1 | -1) => {
    let n = 0;
    for (let k = 0; k < 10; k++) n += loud[i + k * dir] ?? 0;
    return (loud[i] ?? 0) === 1 && n >= 6;
  };
  let first = 0;
  while (first < loud.length && !sustained(first, 1)) first++;
  let last = loud.length - 1;
  while (last > 0 && !sustained(last, -1)) last--;
  return { startMs: first * 10, endMs: (last + 1) * 10 };
}

export function silence(ms: number, rate = 16_000): Int16Array {
  return new Int16Array((ms * rate) / 1000);
}

/** Deterministic low white noise (uniform, ±amplitude). */
export function whiteNoise(ms: number, amplitude: number, rate = 16_000, seed = 1): Int16Array {
  const out = new Int16Array((ms * rate) / 1000);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round(((s / 0xffffffff) * 2 - 1) * amplitude);
  }
  return out;
}

export function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A prompt as a TTS engine sends it: `pcm` (16 kHz) made digitally silent up to 60 ms before its speech, in place. */
export function silentLead(pcm: Int16Array): Int16Array {
  pcm.fill(0, 0, Math.max(0, Math.round((energyBoundaries(pcm).startMs - 60) * 16)));
  return pcm;
}

/** `pcm` scaled so that its speech (samples above 300) sits at `dbfs` RMS (the barge-in bench's bot level). */
export function level(pcm: Int16Array, dbfs: number): Int16Array {
  let sum = 0;
  let n = 0;
  for (const s of pcm) {
    if (Math.abs(s) > 300) {
      sum += s * s;
      n++;
    }
  }
  const gain = (32768 * 10 ** (dbfs / 20)) / Math.sqrt(sum / Math.max(1, n));
  return pcm.map((s) => Math.max(-32768, Math.min(32767, Math.round(s * gain))));
}

/** Wait for a condition with a bound (a short timer, not setImmediate: spinning on immediates starves I/O). */
export const waitFor = (predicate: () => boolean, timeoutMs: number, what = 'condition') =>
  sharedWaitFor(predicate, timeoutMs, what, 2);

/** Mean energy per sample of `pcm[from..to)` (0 for an empty span). */
export function energy(pcm: Int16Array, from = 0, to = pcm.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i]! * pcm[i]!;
  return sum / Math.max(1, to - from);
}

/** RMS of the quietest 10 % of 10 ms frames: the recording's own background level. */
export function backgroundRms(pcm: Int16Array, rate = 16_000): number {
  const frame = rate / 100;
  const powers: number[] = [];
  for (let i = 0; i + frame <= pcm.length; i += frame) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += (pcm[j] as number) ** 2;
    powers.push(sum / frame);
  }
  powers.sort((a, b) => a - b);
  return Math.sqrt(powers[Math.floor(powers.length * 0.1)] ?? 0);
}

/** The clip with `padMs` of its own background level (as white noise) before and `tailMs` after, like a call line. */
export function padWithBackground(pcm: Int16Array, padMs: number, tailMs: number): Int16Array {
  // uniform noise of amplitude a has rms a/sqrt(3)
  const amplitude = Math.max(1, backgroundRms(pcm) * Math.sqrt(3));
  return concat(whiteNoise(padMs, amplitude, 16_000, 7), pcm, whiteNoise(tailMs, amplitude, 16_000, 11));
}
