/**
 * Concurrency sweep at the Asterisk edge: N simultaneous callers through the ARI + RTP emulator (this process)
 * into the bot (the product, its own process: Silero VAD, whisper.cpp, rules NLU, espeak-ng, default settings).
 * Every shared clip is a caller; a clip with pauses the endpointer ends turns at is a multi-turn caller (one turn
 * per utterance, the bot answers each). Each point runs ROUNDS rounds; round r gives caller i clip (r·N + i) mod
 * 11. A point holds only if every turn was answered, the turn latency p95 (last voiced frame leaving the caller →
 * first audible bot frame at the caller) is ≤ 1 s and the bot's pacers skipped no slot. The figure is the largest
 * N such that it and every smaller N held; the sweep stops at the first point that did not hold and says why.
 * Runs for the base.en and the tiny.en shape (random weights, decoding capped at a trained model's token rate).
 * ASTERISK_BENCH_N=1,2,4 sets the points, ASTERISK_BENCH_SHAPES=tiny.en the shapes, ASTERISK_BENCH_ROUNDS the rounds.
 *
 * ASTERISK_BENCH_PROFILE=10 instead profiles the bot at that one point (one round): V8's --cpu-prof for its
 * JavaScript thread and `perf record` for all its threads (native whisper.cpp, onnxruntime, V8), summarised as the
 * top five functions and the share per library.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchShape } from '../scripts/bench-whisper-model.js';
import { figure, percentile } from './lib/figure.js';
import { HEAD_SPEED, runCaller, setupEdge, VAD_FIELDS, type TurnResult } from './lib/edge-run.js';
import { sized } from './lib/smoke.js';
import { PerfRecording, perfAvailable, summariseCpuProfile } from './lib/profile.js';
import { loadClipTurns } from './lib/turns.js';
import { benchWhisper } from './lib/whisper-model.js';
import type { TurnStageSummary } from './lib/bot-process.js';

const BENCH = 'asterisk-concurrency';
const PROFILE_N = process.env.ASTERISK_BENCH_PROFILE ? Number(process.env.ASTERISK_BENCH_PROFILE) : null;
const POINTS = PROFILE_N
  ? [PROFILE_N]
  : (process.env.ASTERISK_BENCH_N ?? sized('1,2,4,6,8,10,12,14,16,20', '2')).split(',').map(Number);
const ROUNDS = PROFILE_N ? 1 : Number(process.env.ASTERISK_BENCH_ROUNDS ?? sized(3, 1));
const SHAPES = (process.env.ASTERISK_BENCH_SHAPES ?? sized('base.en,tiny.en', 'tiny.en')).split(',') as BenchShape[];
const P95_LIMIT_MS = 1000;
const CALL_STAGGER_MS = 100;

const allClips = await loadClipTurns();
// smoke: the short single-turn clips only
const clips = sized(
  allClips,
  allClips.filter((c) => c.seconds < 3),
);

interface Point {
  n: number;
  results: TurnResult[];
  skipped: number;
  botCpuUtil: number;
  botEventLoopP99Ms: number;
  botStages: TurnStageSummary;
}

function verdict(p: Point): { held: boolean; why: string[] } {
  const lat = p.results.filter((r) => r.latencyMs !== null).map((r) => r.latencyMs!);
  const failed = p.results.length - lat.length;
  const p95 = percentile(lat, 0.95);
  const why: string[] = [];
  if (lat.length === 0) why.push('no turn measured');
  if (failed > 0) why.push(`${failed} of ${p.results.length} turns unanswered`);
  if (p95 > P95_LIMIT_MS) why.push(`p95 ${Math.round(p95)} ms > ${P95_LIMIT_MS} ms`);
  if (p.skipped > 0) why.push(`${p.skipped} pacer slots skipped`);
  return { held: why.length === 0, why };
}

async function sweep(shape: BenchShape): Promise<void> {
  const whisper = await benchWhisper(shape);
  const profDir = PROFILE_N ? mkdtempSync(join(tmpdir(), 'vb-prof-')) : null;
  const setup = await setupEdge('asterisk', whisper, {
    // VAD sessions for the largest point built at start-up, as a deployment sized for its peak would
    speech: { vad: { prewarmSessions: Math.max(...POINTS) } },
    ...(profDir ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
  });
  const perf = profDir && perfAvailable() ? new PerfRecording(setup.bot.pid, join(profDir, 'perf.data')) : null;
  let best = 0;
  let stopped = `all points held (up to ${POINTS[POINTS.length - 1]})`;
  let callId = 0;
  try {
    for (const n of POINTS) {
      const before = await setup.bot.stats();
      const t0 = performance.now();
      const results: TurnResult[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const rounds = await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            await new Promise((r) => setTimeout(r, i * CALL_STAGGER_MS));
            const caller = await setup.newCaller(callId++);
            return runCaller(caller, clips[(round * n + i) % clips.length]!.turns);
          }),
        );
        results.push(...rounds.flat());
      }
      const after = await setup.bot.stats();
      const point: Point = {
        n,
        results,
        skipped: after.pacer.skipped - before.pacer.skipped,
        botCpuUtil: (after.cpuMs - before.cpuMs) / (performance.now() - t0),
        botEventLoopP99Ms: after.eventLoopP99Ms,
        botStages: after.turnStages,
      };
      const { held, why } = verdict(point);
      const lat = results.filter((r) => r.latencyMs !== null).map((r) => r.latencyMs!);
      figure(BENCH, `turn_latency_p95_${shape}_n${n}`, Math.round(percentile(lat, 0.95)), 'ms', {
        n,
        rounds: ROUNDS,
        p50: Math.round(percentile(lat, 0.5)),
        p99: Math.round(percentile(lat, 0.99)),
        turns: results.length,
        answeredTurns: lat.length,
        overlappedTurns: results.filter((r) => r.overlapped).length,
        pacerSkippedSlots: point.skipped,
        botCpuCores: Number(point.botCpuUtil.toFixed(2)),
        botEventLoopP99Ms: Number(point.botEventLoopP99Ms.toFixed(1)),
        // where the time went inside the bot (its turn-latency events); the rest is the media path
        botStages: point.botStages,
        held,
        why,
        edge: 'asterisk',
        headSpeed: HEAD_SPEED,
        ...whisper.fields,
        ...VAD_FIELDS,
        samples: lat.map(Math.round),
        // every unanswered turn, named: a figure that says "1 of 5 unanswered" must also say which and why
        failures: results
          .filter((r) => r.latencyMs === null)
          .map((r) => ({ clip: r.clip, part: r.part, failure: r.failure })),
      });
      if (!held) {
        stopped = `N=${n} did not hold: ${why.join('; ')}`;
        break;
      }
      best = n;
    }
  } finally {
    await perf?.stop();
    await setup.close();
  }
  if (profDir) {
    const common = { n: PROFILE_N, ...whisper.fields, ...VAD_FIELDS };
    figure(BENCH, `cpu_profile_js_top_${shape}`, summariseCpuProfile(profDir)[0]?.share ?? 0, 'share', {
      ...common,
      what: 'bot process, V8 --cpu-prof (main JavaScript thread, whole run): top functions, share of busy samples',
      top: summariseCpuProfile(profDir, 8),
    });
    if (perf) {
      figure(BENCH, `cpu_profile_perf_top_${shape}`, perf.summarise()[0]?.share ?? 0, 'share', {
        ...common,
        what: 'bot process, perf record -e cpu-clock (all threads, during the point): top symbols by self samples',
        top: perf.summarise(8),
        byLibrary: perf.byLibrary(),
      });
    }
    return;
  }
  figure(BENCH, `max_concurrent_calls_${shape}`, best, 'calls', {
    criterion: `every turn answered, p95 turn latency <= ${P95_LIMIT_MS} ms, no skipped pacer slot; this N and every smaller N`,
    points: POINTS.join(','),
    rounds: ROUNDS,
    stopped,
    ...(shape === 'tiny.en' ? { target: 10 } : {}),
    ...whisper.fields,
  });
}

for (const shape of SHAPES) await sweep(shape);
