/**
 * Side by side with what users would pick instead, same process, interleaved rounds, ratios (ours ÷ peer time;
 * < 1 means ours is faster): G.711 μ-law encode and decode of a 20 ms frame vs `alawmulaw`, with a bit-exactness
 * check (every 16-bit input, every byte). The other comparisons the issue lists (werift-rtp, vad-node, a
 * maintained resampler vs sox, another whisper.cpp binding) are not in this bench yet.
 */
import alawmulaw from 'alawmulaw';
import { mulawDecode, mulawEncode } from '../src/media/g711.js';
import { figure, percentile } from './lib/figure.js';
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

/** ns per frame of `body` over FRAMES_PER_ROUND frames */
function time(body: () => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < FRAMES_PER_ROUND; i++) body();
  return Number(process.hrtime.bigint() - t) / FRAMES_PER_ROUND;
}

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
  c.ours();
  c.peer();
  const ours: number[] = [];
  const peer: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // interleaved, alternating who goes first: drift in machine load hits both alike
    if (r % 2 === 0) {
      ours.push(time(c.ours));
      peer.push(time(c.peer));
    } else {
      peer.push(time(c.peer));
      ours.push(time(c.ours));
    }
  }
  const ratios = ours.map((o, i) => o / peer[i]!);
  figure(BENCH, `${c.name}_ours_vs_alawmulaw`, percentile(ratios, 0.5), 'ratio', {
    peer: 'alawmulaw',
    oursNsPerFrame: Math.round(percentile(ours, 0.5)),
    peerNsPerFrame: Math.round(percentile(peer, 0.5)),
    rounds: ROUNDS,
    framesPerRound: FRAMES_PER_ROUND,
    encodeMismatches,
    decodeMismatches,
    note: 'ratio < 1: ours faster',
  });
}
if (sink === 0.5) console.error('unreachable');
