/**
 * ASR bench: whisper.cpp through smart-whisper on a random-weight model with the exact shape of base.en (or
 * BENCH_WHISPER_SHAPE=tiny.en), decoding capped at the token rate trained models emit on the shared clips
 * (bench/lib/whisper-model.ts), so encoder and decoder both do a real model's work. Latency from the end of
 * speech (the whole utterance handed over, as the VAD does at speechEnd) to the final result, for the shared
 * clips (1-35 s), at 1 and at 4 concurrent calls sharing the one model; real-time factor = processing / audio;
 * decoder steps per request checked against the cap. Target: final ≤ 250 ms after end of speech for a ~3 s
 * utterance at 1 call. ASR_THREADS sets whisper threads (default 1: on an oversubscribed host ggml's spinning
 * thread barrier makes 2 threads much slower).
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAsr } from '../src/speech/asr/index.js';
import { addonBuild, maxTokensFor } from '../src/speech/asr/whisper-cpp.js';
import { asrConfig } from '../src/speech/config.js';
import type { Asr, AsrResult } from '../src/speech/types.js';
import { loadClips } from '../test/speech/helpers.js';
import { figure, percentile } from './lib/figure.js';
import { SMOKE, sized } from './lib/smoke.js';
import { benchWhisper } from './lib/whisper-model.js';

const BENCH = 'asr';
const whisper = await benchWhisper(SMOKE && !process.env.BENCH_WHISPER_SHAPE ? 'tiny.en' : undefined);
const clips = sized(loadClips(), loadClips().slice(0, 2));
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
      modelPath: whisper.modelPath,
      autoDownload: false,
      parallelism,
      threads: Number(process.env.ASR_THREADS ?? 1),
      maxTokensPerSecond: whisper.maxTokensPerSecond,
    },
  });
  const asr = await createAsr(cfg, pino({ level: 'silent' }), new Registry());
  await finalOf(asr, (clips[0] as (typeof clips)[0]).pcm.subarray(0, 16_000)); // warm-up
  const latencies: number[] = [];
  const rtf: number[] = [];
  const short: number[] = [];
  const shortCpu: number[] = [];
  const tokens: number[] = [];
  let shortSteps = 0;
  for (let rep = 0; rep < sized(2, 1); rep++) {
    for (let i = 0; i < clips.length; i += concurrency) {
      const batch = clips.slice(i, i + concurrency);
      const done = await Promise.all(batch.map((c) => finalOf(asr, c.pcm)));
      done.forEach(({ latency, cpuMs, result }) => {
        latencies.push(latency);
        rtf.push(result.timings.processingMs / result.timings.audioMs);
        const decoded = result.timings.decodedTokens ?? 0;
        tokens.push(decoded);
        // the decoder must run the cap's steps (max_tokens + 1 samples): fewer would measure less than a real model
        if (decoded < maxTokensFor(result.timings.audioMs, whisper.maxTokensPerSecond) + 1) shortSteps++;
        if (result.timings.audioMs >= 2000 && result.timings.audioMs <= 3500) {
          short.push(latency);
          shortCpu.push(cpuMs);
        }
      });
    }
  }
  await asr.close();
  const extra = { calls: concurrency, parallelism, build, ...whisper.fields, requests: latencies.length };
  figure(BENCH, `final_latency_p50_${concurrency}call`, percentile(latencies, 0.5), 'ms', extra);
  figure(BENCH, `final_latency_p90_${concurrency}call`, percentile(latencies, 0.9), 'ms', extra);
  figure(BENCH, `final_latency_3s_utterance_${concurrency}call`, percentile(short, 0.5), 'ms', {
    ...extra,
    target: concurrency === 1 ? 250 : undefined,
    utterances: short.length,
  });
  figure(BENCH, `rtf_p50_${concurrency}call`, percentile(rtf, 0.5), 'ratio', extra);
  figure(BENCH, `decoded_tokens_p50_${concurrency}call`, percentile(tokens, 0.5), 'tokens', {
    ...extra,
    requestsBelowCap: shortSteps,
  });
  if (concurrency === 1) {
    // CPU time is what the request costs whatever else the machine runs (wall time inflates on a busy host)
    figure(BENCH, 'final_cpu_3s_utterance_1call', percentile(shortCpu, 0.5), 'ms', extra);
  }
}

await run(1, 1);
await run(4, 2);
