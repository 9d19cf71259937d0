/**
 * Codec + resampler throughput: per 20 ms μ-law frame, decode → 8→16 kHz → 16→8 kHz → encode (the media plane's
 * per-frame DSP for a 16 kHz speech pipeline on an 8 kHz phone leg). Target ≥ 20,000 frames/s on one core.
 */
import { mulawDecode, mulawEncode } from '../src/media/g711.js';
import { Resampler } from '../src/media/resampler.js';
import { figure } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'codec';
const TARGET = 20_000;
const SECONDS = Number(process.env.CODEC_BENCH_SECONDS ?? sized(3, 0.2));

// A speech-like test signal: two tones plus noise, μ-law encoded, 50 frames looped.
const frames: Uint8Array[] = [];
for (let f = 0; f < 50; f++) {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) {
    const t = (f * 160 + i) / 8000;
    pcm[i] =
      6000 * Math.sin(2 * Math.PI * 440 * t) + 3000 * Math.sin(2 * Math.PI * 1850 * t) + (Math.random() - 0.5) * 800;
  }
  frames.push(mulawEncode(pcm));
}

const up = new Resampler(8000, 16000);
const down = new Resampler(16000, 8000);
const pcm8 = new Int16Array(160);
// Caller-owned output buffers, as the media plane uses them: the measured path allocates nothing.
const wideOut = new Int16Array(up.maxOutput(160));
const narrowOut = new Int16Array(down.maxOutput(wideOut.length));
const out = new Uint8Array(160);
let sink = 0;

function frame(i: number): void {
  mulawDecode(frames[i % 50]!, pcm8);
  const wide = up.process(pcm8, wideOut);
  const narrow = down.process(wide, narrowOut);
  mulawEncode(narrow, out.subarray(0, narrow.length));
  sink += out[0]!;
}

function measure(seconds: number, body: (i: number) => void): number {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 500; k++) body(n++);
  }
  return n / ((performance.now() - t0) / 1000);
}

measure(sized(0.5, 0.05), frame); // warm up the JIT
const perSecond = measure(SECONDS, frame);
figure(BENCH, 'frames_per_s', perSecond, 'frames/s', {
  target: TARGET,
  ratio_to_target: Number((perSecond / TARGET).toFixed(2)),
});
figure(BENCH, 'us_per_frame', 1e6 / perSecond, 'us');
figure(BENCH, 'realtime_streams_per_core', perSecond / 50, 'streams', { note: '50 frames/s per stream' });

// Parts, for where the time goes.
const wide = up.process(pcm8, wideOut).slice();
const parts: Array<[string, (i: number) => void]> = [
  ['mulaw_decode', (i) => mulawDecode(frames[i % 50]!, pcm8)],
  ['resample_8k_to_16k', () => up.process(pcm8, wideOut)],
  ['resample_16k_to_8k', () => down.process(wide, narrowOut)],
  ['mulaw_encode', () => mulawEncode(pcm8, out)],
];
for (const [name, body] of parts) figure(BENCH, `${name}_us`, 1e6 / measure(sized(0.5, 0.05), body), 'us');
if (sink === -1) console.error('unreachable');
