/**
 * ASR bench (whisper.cpp through smart-whisper, stub model = real tiny.en compute): latency from the end of
 * speech (the whole utterance handed over, as the VAD does at speechEnd) to the final result, for the shared
 * clips (1-16 s), at 1 and at 4 concurrent calls sharing the one model; real-time factor = processing / audio.
 * Target: final ≤ 250 ms after end of speech for a ~3 s utterance at 1 call. ASR_THREADS sets whisper threads
 * (default 1: on an oversubscribed host ggml's spinning thread barrier makes 2 threads much slower).
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAsr } from '../src/speech/asr/index.js';
import { addonBuild } from '../src/speech/asr/whisper-cpp.js';
import { asrConfig } from '../src/speech/config.js';
import type { Asr, AsrResult } from '../src/speech/types.js';
import { STUB_WHISPER, loadClips } from '../test/speech/helpers.js';
import { figure, percentile } from './lib/figure.js';

const BENCH = 'asr';
const clips = loadClips();
const build = addonBuild().mode ?? 'unknown';

async function finalOf(asr: Asr, pcm: Int16Array): Promise<{ latency: number; cpuMs: number; result: AsrResult }> {
  const t = performance.now();
  const cpu = process.cpuUsage();
  async function* utterance(): AsyncGenerator<Int16Array> {
    yield pcm;
  }
  let result: AsrResult | undefined;
  for await (const r of asr.transcribe(utterance())) if (r.final) result = r;
  if (!result) throw new Error('no final result');
  const used = process.cpuUsage(cpu);
  return { latency: performance.now() - t, cpuMs: (used.user + used.system) / 1000, result };
}

async function run(concurrency: number, parallelism: number): Promise<void> {
  const cfg = asrConfig.parse({
    whisperCpp: {
      modelPath: STUB_WHISPER,
      autoDownload: false,
      parallelism,
      threads: Number(process.env.ASR_THREADS ?? 1),
    },
  });
  const asr = await createAsr(cfg, pino({ level: 'silent' }), new Registry());
  await finalOf(asr, (clips[0] as (typeof clips)[0]).pcm.subarray(0, 16_000)); // warm-up
  const latencies: number[] = [];
  const rtf: number[] = [];
  const short: number[] = [];
  const shortCpu: number[] = [];
  for (let rep = 0; rep < 2; rep++) {
    for (let i = 0; i < clips.length; i += concurrency) {
      const batch = clips.slice(i, i + concurrency);
      const done = await Promise.all(batch.map((c) => finalOf(asr, c.pcm)));
      done.forEach(({ latency, cpuMs, result }) => {
        latencies.push(latency);
        rtf.push(result.timings.processingMs / result.timings.audioMs);
        if (result.timings.audioMs >= 2000 && result.timings.audioMs <= 3500) {
          short.push(latency);
          shortCpu.push(cpuMs);
        }
      });
    }
  }
  await asr.close();
  const extra = { calls: concurrency, parallelism, build, model: 'stub tiny.en' };
  figure(BENCH, `final_latency_p50_${concurrency}call`, percentile(latencies, 0.5), 'ms', extra);
  figure(BENCH, `final_latency_p90_${concurrency}call`, percentile(latencies, 0.9), 'ms', extra);
  figure(BENCH, `final_latency_3s_utterance_${concurrency}call`, percentile(short, 0.5), 'ms', {
    ...extra,
    target: concurrency === 1 ? 250 : undefined,
    utterances: short.length,
  });
  figure(BENCH, `rtf_p50_${concurrency}call`, percentile(rtf, 0.5), 'ratio', extra);
  if (concurrency === 1) {
    // CPU time is what the request costs whatever else the machine runs (wall time inflates on a busy host)
    figure(BENCH, 'final_cpu_3s_utterance_1call', percentile(shortCpu, 0.5), 'ms', extra);
  }
}

await run(1, 1);
await run(4, 2);
