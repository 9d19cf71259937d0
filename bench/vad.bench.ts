/**
 * VAD bench: Silero VAD (sherpa-onnx, per 512-sample window) + endpointing over the shared clips after the
 * telephone path (16 kHz → μ-law 8 kHz → 16 kHz). Figures: process CPU ms per audio second (target ≤ 5; CPU
 * time, not wall time, so a busy shared machine does not inflate it), how late
 * speechStart fires after the speech onset (barge-in latency), and boundary error against an energy reference.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { vadConfig } from '../src/speech/config.js';
import type { VadEvent } from '../src/speech/types.js';
import { createVadFactory } from '../src/speech/vad/silero.js';
import { VAD_MODEL, energyBoundaries, loadClips, padWithBackground, telephonePath } from '../test/speech/helpers.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'vad';
const PAD_MS = 1000;
const factory = createVadFactory(vadConfig.parse({ modelPath: VAD_MODEL }), pino({ level: 'silent' }), new Registry());
const inputs = sized(loadClips(), loadClips().slice(0, 2)).map((clip) => ({
  ref: energyBoundaries(clip.pcm),
  pcm: telephonePath(padWithBackground(clip.pcm, PAD_MS, 1500)),
}));
const audioSeconds = inputs.reduce((s, i) => s + i.pcm.length / 16_000, 0);

const costs: number[] = [];
const startLag: number[] = [];
const boundaryErr: number[] = [];
for (let rep = 0; rep < sized(3, 1); rep++) {
  let cpu = 0;
  for (const input of inputs) {
    const vad = factory.create();
    const events: VadEvent[] = [];
    const before = process.cpuUsage();
    for (let i = 0; i < input.pcm.length; i += 320) events.push(...vad.push(input.pcm.subarray(i, i + 320)));
    const used = process.cpuUsage(before);
    cpu += (used.user + used.system) / 1000;
    vad.close();
    if (rep > 0) continue;
    const start = events.find((e) => e.type === 'speechStart');
    const ends = events.filter((e) => e.type === 'speechEnd');
    if (start) startLag.push(start.atMs - (input.ref.startMs + PAD_MS));
    const first = ends[0];
    const last = ends[ends.length - 1];
    if (first?.type === 'speechEnd') boundaryErr.push(Math.abs(first.startMs - (input.ref.startMs + PAD_MS)));
    if (last?.type === 'speechEnd') boundaryErr.push(Math.abs(last.endMs - (input.ref.endMs + PAD_MS)));
  }
  costs.push(cpu / audioSeconds);
}

figure(BENCH, 'cpu_per_audio_second', percentile(costs, 0.5), 'ms', {
  target: 5,
  audioSeconds: Math.round(audioSeconds),
  runs: costs.length,
});
figure(BENCH, 'speech_start_lag_p50', percentile(startLag, 0.5), 'ms', {
  note: 'speechStart/interruption after the energy onset',
});
figure(BENCH, 'speech_start_lag_max', Math.max(...startLag), 'ms');
figure(BENCH, 'boundary_error_p50', percentile(boundaryErr, 0.5), 'ms', { tolerance: 200 });
figure(BENCH, 'boundary_error_max', Math.max(...boundaryErr), 'ms', { tolerance: 200 });
