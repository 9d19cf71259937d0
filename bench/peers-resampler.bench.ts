/**
 * Resampling, ours (src/media/resampler.ts: what every call runs, 8 → 16 kHz for the VAD and ASR, 16 → 8 kHz for
 * the line) vs `@alexanderolsen/libsamplerate-js` (libsamplerate compiled to WebAssembly, the maintained npm
 * resampler; its fastest and its medium sinc converters): same process, interleaved rounds.
 *   speed: ns per 20 ms frame, streaming frame by frame (ours: process(); peer: the `full` streaming API), ratio
 *          ours ÷ peer (< 1: ours faster);
 *   quality: SNR in dB of each whole-clip output against `sox … rate -v` (very high quality) on the same input,
 *          at the best alignment within ±32 samples (each converter's own delay), 50 ms left out at both ends.
 * Input: the shared speech clips, narrowed to 8 kHz by sox for the 8 → 16 direction. Needs the `sox` program
 * (apt-get install sox); without it the quality figures say so and the speed figures still come.
 */
import { execFileSync } from 'node:child_process';
import libsamplerate from '@alexanderolsen/libsamplerate-js';

// a CommonJS bundle: its named exports are only on the default import under Node's ESM
const { ConverterType, create } = libsamplerate;
type SRC = Awaited<ReturnType<typeof create>>;
import { Resampler, resample } from '../src/media/resampler.js';
import { loadClips } from '../test/speech/helpers.js';
import { figure, percentile } from './lib/figure.js';
import { interleave, nsPer } from './lib/interleave.js';
import { sized } from './lib/smoke.js';

const BENCH = 'peers-resampler';
const ROUNDS = sized(7, 2);
const FRAMES = sized(20_000, 500);

/** sox's description of headerless 16-bit mono PCM at `rate` on stdin/stdout (the same for input and output) */
const rawPcm = (rate: number) => ['-t', 'raw', '-r', String(rate), '-e', 'signed', '-b', '16', '-c', '1', '-'];

function sox(pcm: Int16Array, from: number, to: number): Int16Array | null {
  try {
    const out = execFileSync('sox', [...rawPcm(from), ...rawPcm(to), 'rate', '-v'], {
      input: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength),
      maxBuffer: 1 << 28,
    });
    return new Int16Array(out.buffer, out.byteOffset, out.length / 2);
  } catch {
    return null;
  }
}

function snrDb(ref: Int16Array, x: ArrayLike<number>, rate: number): number {
  const edge = Math.round(rate * 0.05);
  let best = -Infinity;
  for (let lag = -32; lag <= 32; lag++) {
    let sig = 0;
    let err = 0;
    for (let i = edge; i < ref.length - edge; i++) {
      const j = i + lag;
      if (j < 0 || j >= x.length) continue;
      const d = ref[i]! - x[j]!;
      sig += ref[i]! * ref[i]!;
      err += d * d;
    }
    best = Math.max(best, 10 * Math.log10(sig / Math.max(err, 1e-9)));
  }
  return best;
}

const toFloat = (pcm: Int16Array) => Float32Array.from(pcm, (v) => v / 32768);
const toInt = (f: Float32Array) => Int16Array.from(f, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));

const clips = sized(loadClips(), loadClips().slice(0, 1));
const directions = [
  { from: 8000, to: 16_000 },
  { from: 16_000, to: 8000 },
];
const converters = [
  { name: 'sinc_fastest', type: ConverterType.SRC_SINC_FASTEST },
  { name: 'sinc_medium', type: ConverterType.SRC_SINC_MEDIUM_QUALITY },
];

for (const { from, to } of directions) {
  const frameIn = (from / 1000) * 20;
  const frame = new Int16Array(frameIn).map((_, i) => Math.round(6000 * Math.sin(i / 3) + 2000 * Math.sin(i / 1.3)));
  const frameF = toFloat(frame);
  // the inputs at `from`: the clips (16 kHz) as they are, or narrowed by sox
  const inputs = clips.map((c) => (from === 16_000 ? c.pcm : sox(c.pcm, 16_000, 8000))).filter((x) => x !== null);
  const references = inputs.map((x) => sox(x, from, to));
  const haveSox = inputs.length === clips.length && references.every((r) => r !== null);
  const oursSnr = haveSox ? inputs.map((x, i) => snrDb(references[i]!, resample(x, from, to), to)) : [];
  for (const conv of converters) {
    const ours = new Resampler(from, to);
    const outBuf = new Int16Array(ours.maxOutput(frameIn));
    const peer: SRC = await create(1, from, to, { converterType: conv.type });
    const peerOut = new Float32Array(Math.ceil((frameIn * to) / from) + 64);
    let sink = 0;
    const r = await interleave(
      ROUNDS,
      () => nsPer(FRAMES, () => (sink += ours.process(frame, outBuf).length)),
      () => nsPer(FRAMES, () => (sink += peer.full(frameF, peerOut).length)),
    );
    let peerSnr: number[] = [];
    if (haveSox) {
      const whole: SRC = await create(1, from, to, { converterType: conv.type });
      peerSnr = inputs.map((x, i) => snrDb(references[i]!, toInt(whole.simple(toFloat(x))), to));
      whole.destroy();
    }
    peer.destroy();
    figure(BENCH, `resample_${from / 1000}k_${to / 1000}k_ours_vs_libsamplerate_${conv.name}`, r.ratioP50, 'ratio', {
      peer: `@alexanderolsen/libsamplerate-js ${conv.name}`,
      oursNsPerFrame: Math.round(r.oursP50),
      peerNsPerFrame: Math.round(r.peerP50),
      rounds: ROUNDS,
      framesPerRound: FRAMES,
      oursSnrDbVsSox: haveSox ? Number(percentile(oursSnr, 0.5).toFixed(1)) : 'sox not installed',
      peerSnrDbVsSox: haveSox ? Number(percentile(peerSnr, 0.5).toFixed(1)) : 'sox not installed',
      snrClips: oursSnr.length,
      note: 'speed ratio < 1: ours faster; SNR (median over clips) higher is closer to sox rate -v',
      sinkCheck: sink > 0,
    });
  }
}
