/**
 * whisper.cpp through our binding (smart-whisper, built by scripts/build-whisper.mjs, with the product's request
 * parameters from src/speech/asr/whisper-cpp.ts) vs `@napi-rs/whisper` (a prebuilt whisper.cpp binding), on the
 * same model file, same process, interleaved rounds, one whisper thread each: CPU and wall time per utterance
 * (the shared clips of 2-3.5 s, a phone turn's length), for the tiny.en and base.en shapes (random weights,
 * decoding capped at a trained model's token rate: bench/lib/whisper-model.ts).
 *
 * Equal work: the peer cannot turn off whisper.cpp's temperature fallback (no temperature_inc, best_of or
 * logprob_thold setters), and random weights never reach its log-probability threshold, so it re-decodes at
 * temperatures 0.2 … 1.0 with 5 sampled decoders each. The `equal` figures run ours with the same whisper.cpp
 * defaults (temperature_inc 0.2, best_of 5, logprob_thold -1), everything else as the product sends it (audio_ctx,
 * max_tokens, greedy, no timestamps, single segment, suppress non-speech tokens), so both run the same passes of
 * max_tokens + 1 steps. `sameText` counts utterances where both returned the same text: the last pass samples at
 * temperature 1.0, where a rounding difference between the two builds may pick other tokens, so it shows both
 * decoded alike, not that they are bit-identical. The `encoder` figures take the full 30 s window and one token
 * (the encoder's cost nearly alone); the `product` figures run ours as the product does (no fallback) against
 * the same peer run: what a user of each gets. The peer's `full()` is synchronous (it blocks the JS thread; its
 * `setupLogger` callback then deadlocks, so its whisper.cpp log goes to stderr).
 */
import { createRequire } from 'node:module';
import { Whisper, WhisperFullParams, WhisperSamplingStrategy } from '@napi-rs/whisper';
import { WhisperModel, binding } from 'smart-whisper';
import { addonBuild, whisperParams } from '../src/speech/asr/whisper-cpp.js';
import { int16ToFloat32 } from '../src/speech/audio.js';
import { asrConfig } from '../src/speech/config.js';
import { loadClips } from '../test/speech/helpers.js';
import { figure, percentile } from './lib/figure.js';
import { interleave } from './lib/interleave.js';
import { sized } from './lib/smoke.js';
import { benchWhisper } from './lib/whisper-model.js';
import type { BenchShape } from '../scripts/bench-whisper-model.js';

const BENCH = 'peers-whisper';
const ROUNDS = sized(5, 1);
const RATE = 16_000;
const require = createRequire(import.meta.url);
const peerVersion = (require('@napi-rs/whisper/package.json') as { version: string }).version;
/** whisper's encoder window: 1500 frames of 20 ms (smoke: a third of it, seconds matter there) */
const FULL_AUDIO_CTX = sized(1500, 500);
const SHAPES: BenchShape[] = sized(['tiny.en', 'base.en'], ['tiny.en']);
/** whisper.cpp's own defaults for the fallback the peer cannot change (whisper_full_default_params, greedy) */
const WHISPER_CPP_FALLBACK = {
  temperature: 0,
  temperature_inc: 0.2,
  best_of: 5,
  logprob_thold: -1,
  entropy_thold: 2.4,
};

// whisper.cpp under 1 s returns nothing: every chosen clip is longer; padding as the product does is not needed
interface Utterance {
  name: string;
  audioMs: number;
  samples: Float32Array;
}
const utterances: Utterance[] = loadClips()
  .filter((c) => c.pcm.length >= 2 * RATE && c.pcm.length <= 3.5 * RATE)
  .slice(0, sized(Infinity, 1))
  .map((c) => ({ name: c.name, audioMs: (c.pcm.length * 1000) / RATE, samples: int16ToFloat32(c.pcm) }));
const audioSeconds = utterances.reduce((s, u) => s + u.audioMs / 1000, 0);

function oursTranscribe(model: WhisperModel, samples: Float32Array, params: Record<string, unknown>): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!model.handle) return reject(new Error('model freed'));
    binding.transcribe(
      model.handle,
      samples,
      params,
      (results) => {
        if (results instanceof Error) reject(results);
        else resolve(results.map((r) => (typeof r === 'string' ? r : r.text)).join(''));
      },
      () => undefined,
    );
  });
}

function peerParams(p: Record<string, unknown>): WhisperFullParams {
  const params = new WhisperFullParams(WhisperSamplingStrategy.Greedy);
  params.nThreads = p.n_threads as number;
  params.language = p.language as string;
  params.audioCtx = p.audio_ctx as number;
  params.noContext = true;
  params.singleSegment = true;
  params.noTimestamps = true;
  params.printProgress = false;
  params.printRealtime = false;
  params.printTimestamps = false;
  params.suppressNonSpeechTokens = true;
  params.temperature = 0;
  if (typeof p.max_tokens === 'number') params.maxTokens = p.max_tokens;
  return params;
}

interface Pass {
  cpuMs: number;
  wallMs: number;
  texts: string[];
}

/** One pass over every utterance: CPU and wall time per utterance (mean over the pass) and the texts. */
async function pass(
  run: (u: Utterance, i: number) => Promise<string> | string,
  count = utterances.length,
): Promise<Pass> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const texts: string[] = [];
  for (const [i, u] of utterances.slice(0, count).entries()) texts.push(await run(u, i));
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000 / count,
    wallMs: (performance.now() - t0) / count,
    texts,
  };
}

/** Ours vs the peer in interleaved rounds; the passes of the rounds (not the warm-up) are kept. */
async function sideBySide(ours: () => Promise<Pass>, peer: () => Promise<Pass>) {
  const o: Pass[] = [];
  const p: Pass[] = [];
  const keep = (into: Pass[], run: () => Promise<Pass>) => async () => {
    const r = await run();
    into.push(r);
    return r.cpuMs;
  };
  const side = await interleave(ROUNDS, keep(o, ours), keep(p, peer));
  o.shift(); // the warm-up passes
  p.shift();
  const ms = (xs: Pass[], k: 'cpuMs' | 'wallMs') =>
    Number(
      percentile(
        xs.map((x) => x[k]),
        0.5,
      ).toFixed(1),
    );
  const oursWallMs = ms(o, 'wallMs');
  const peerWallMs = ms(p, 'wallMs');
  const last = (xs: Pass[]) => xs[xs.length - 1]!;
  return {
    ratio: side.ratioP50,
    detail: {
      oursCpuMs: ms(o, 'cpuMs'),
      peerCpuMs: ms(p, 'cpuMs'),
      oursWallMs,
      peerWallMs,
      wallRatio: Number((oursWallMs / peerWallMs).toFixed(3)),
      sameText: last(o).texts.filter((t, i) => t.trim() === last(p).texts[i]!.trim()).length,
    },
  };
}

const build = addonBuild();

for (const shape of SHAPES) {
  const whisper = await benchWhisper(shape);
  const cfg = asrConfig.parse({
    whisperCpp: { modelPath: whisper.modelPath, threads: 1, maxTokensPerSecond: whisper.maxTokensPerSecond },
  }).whisperCpp;
  const product = utterances.map((u) => whisperParams(cfg, u.audioMs));
  const equal = product.map((p) => ({ ...p, ...WHISPER_CPP_FALLBACK }));
  const model = await WhisperModel.load(whisper.modelPath);
  const peer = new Whisper(whisper.modelPath);
  const runPeer = () => pass((u, i) => peer.full(peerParams(product[i]!), u.samples));
  const equalRun = await sideBySide(() => pass((u, i) => oursTranscribe(model, u.samples, equal[i]!)), runPeer);
  // the encoder alone, nearly: the full 30 s window (as whisper.cpp's own bench times it) and one token
  const encoder = equal.map((p) => ({ ...p, audio_ctx: FULL_AUDIO_CTX, max_tokens: 1 }));
  const encoderRun = await sideBySide(
    () => pass((u, i) => oursTranscribe(model, u.samples, encoder[i]!), 1),
    () => pass((u, i) => peer.full(peerParams(encoder[i]!), u.samples), 1),
  );
  const productRun = await sideBySide(() => pass((u, i) => oursTranscribe(model, u.samples, product[i]!)), runPeer);
  await model.free();

  const common = {
    shape,
    ...whisper.fields,
    utterances: utterances.length,
    audioSeconds: Number(audioSeconds.toFixed(1)),
    rounds: ROUNDS,
    threads: 1,
    ours: `smart-whisper ${build.mode ?? 'unknown build'}${build.cflags ? ` (${build.cflags})` : ''}, whisper.cpp 2ef717b (2024-10-01)`,
    peer: `@napi-rs/whisper ${peerVersion} prebuilt, whisper.cpp v1.7.2 (6266a9f, 2024-11-19)`,
    note: 'ratio < 1: ours cheaper',
  };
  figure(BENCH, `whisper_cpu_per_utterance_ours_vs_napi_rs_equal_${shape}`, equalRun.ratio, 'ratio', {
    ...common,
    settings: 'both with whisper.cpp default temperature fallback (the peer cannot turn it off)',
    ...equalRun.detail,
  });
  figure(BENCH, `whisper_cpu_encoder_ours_vs_napi_rs_${shape}`, encoderRun.ratio, 'ratio', {
    ...common,
    utterances: 1,
    audioSeconds: Number((utterances[0]!.audioMs / 1000).toFixed(1)),
    settings: `encoder-bound: audio_ctx ${FULL_AUDIO_CTX} (1500: the full 30 s window) and max_tokens 1, fallback as in the equal run`,
    ...encoderRun.detail,
  });
  figure(BENCH, `whisper_cpu_per_utterance_ours_product_vs_napi_rs_${shape}`, productRun.ratio, 'ratio', {
    ...common,
    settings: 'ours as the product runs it (no fallback); the peer with the fallback it cannot turn off',
    ...productRun.detail,
  });
}
