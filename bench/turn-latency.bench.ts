/**
 * Turn latency at the product's real edges: from the caller's last voiced frame leaving the caller to the first
 * audible bot frame as the caller receives it, through
 *   asterisk: μ-law RTP via the ARI emulator,
 *   jambonz:  the listen WebSocket (heard after the emulated media server's playout),
 *   browser:  the test-call WebSocket.
 * The bot is the product (startApp, default settings: Silero VAD, whisper.cpp, rules NLU, espeak-ng, default
 * end-of-turn) in its own process; emulator and callers run here. Whisper runs a random-weight model with
 * base.en's exact shape (BENCH_WHISPER_SHAPE=tiny.en for the other), decoding capped at a trained model's token
 * rate; it recognises no words, so every reply is the no-intent reply (BENCH_REPLY, synthesised every time).
 *
 * Points per edge: 1 call (turns one after another, ≥ 50) and N calls at once (8; the browser backend takes 4),
 * ≥ 50 turns in all. All shared clips, multi-utterance ones as multi-turn callers. A turn without a reply is a
 * failure and is counted. Caller audio runs in real time, 50 packets a second, silence between turns.
 * TURN_EDGES=asterisk,jambonz picks edges; TURN_MIN_TURNS (default 50) the turns per point.
 */
import { figure, percentile } from './lib/figure.js';
import { EDGES, type Edge } from './lib/edge-callers.js';
import {
  BENCH_REPLY,
  END_OF_TURN_SILENCE_MS,
  HEAD_SPEED,
  REPLY_TIMEOUT_MS,
  runCaller,
  setupEdge,
  VAD_FIELDS,
  type TurnResult,
} from './lib/edge-run.js';
import { SMOKE, sized } from './lib/smoke.js';
import { loadClipTurns, type Turn } from './lib/turns.js';
import { benchWhisper } from './lib/whisper-model.js';

const BENCH = 'turn-latency';
const edges = (process.env.TURN_EDGES?.split(',') as Edge[] | undefined) ?? (SMOKE ? ['asterisk'] : [...EDGES]);
const MIN_TURNS = Number(process.env.TURN_MIN_TURNS ?? sized(50, 2));
const whisper = await benchWhisper(SMOKE && !process.env.BENCH_WHISPER_SHAPE ? 'tiny.en' : undefined);
const clips = await loadClipTurns();
// smoke: the short turns only
const allTurns: Turn[] = clips.flatMap((c) => c.turns).filter((t) => !SMOKE || t.pcm16k.length < 3 * 16_000);
const manyCalls = (edge: Edge) => sized(edge === 'browser' ? 4 : 8, 2);

/** `count` turns from the shared list, starting at `offset`, cycling. */
function turnsFrom(offset: number, count: number): Turn[] {
  return Array.from({ length: count }, (_, k) => allTurns[(offset + k) % allTurns.length]!);
}

function report(edge: Edge, calls: number, results: TurnResult[], extra: Record<string, unknown>): void {
  const latencies = results.filter((r) => r.latencyMs !== null).map((r) => r.latencyMs!);
  const failed = results.filter((r) => r.latencyMs === null);
  const p95 = percentile(latencies, 0.95);
  const target = edge === 'asterisk' ? (calls === 1 ? { p50: 450, p95: 700 } : { p95: 1000 }) : undefined;
  figure(BENCH, `turn_latency_p95_${edge}_${calls}call`, Math.round(p95), 'ms', {
    edge,
    calls,
    p50: Math.round(percentile(latencies, 0.5)),
    p95: Math.round(p95),
    p99: Math.round(percentile(latencies, 0.99)),
    max: Math.round(percentile(latencies, 1)),
    turns: results.length,
    answeredTurns: latencies.length,
    failedTurns: failed.length,
    failures: [...new Set(failed.map((f) => f.failure))],
    overlappedTurns: results.filter((r) => r.overlapped).length,
    // counted in the percentiles like every answer; flagged because the bot answered before the turn was over
    earlyAnswers: results.filter((r) => r.early).length,
    earlyAnswerBelowMs: END_OF_TURN_SILENCE_MS,
    earlyTurns: results.filter((r) => r.early).map((r) => `${r.clip}#${r.part}: ${Math.round(r.latencyMs!)} ms`),
    ...(target ? { target } : {}),
    ...whisper.fields,
    ...VAD_FIELDS,
    reply: `"${BENCH_REPLY}" (no-intent reply: random weights recognise no words)`,
    headSpeed: HEAD_SPEED,
    replyTimeoutMs: REPLY_TIMEOUT_MS,
    ...extra,
    samples: latencies.map(Math.round),
  });
}

for (const edge of edges) {
  const setup = await setupEdge(edge, whisper);
  try {
    // 1 call at a time: calls of one pass over the clips each, until MIN_TURNS turns
    const single: TurnResult[] = [];
    let i = 0;
    const cpu0 = await setup.bot.stats();
    while (single.length < MIN_TURNS) {
      const caller = await setup.newCaller(i);
      single.push(...(await runCaller(caller, turnsFrom(i * 5, Math.min(allTurns.length, MIN_TURNS)))));
      i++;
    }
    const cpu1 = await setup.bot.stats();
    report(edge, 1, single, {
      pacerSkippedSlots: cpu1.pacer.skipped - cpu0.pacer.skipped,
      botEventLoopP99Ms: Number(cpu1.eventLoopP99Ms.toFixed(1)),
      botStages: cpu1.turnStages,
    });
    // N calls at once, staggered by 250 ms (calls do not all start in the same instant)
    const n = manyCalls(edge);
    const perCall = Math.ceil(MIN_TURNS / n);
    const many = await Promise.all(
      Array.from({ length: n }, async (_, c) => {
        await new Promise((r) => setTimeout(r, c * 250));
        const caller = await setup.newCaller(100 + c);
        return runCaller(caller, turnsFrom(c * 3, perCall));
      }),
    );
    const cpu2 = await setup.bot.stats();
    report(edge, n, many.flat(), {
      pacerSkippedSlots: cpu2.pacer.skipped - cpu1.pacer.skipped,
      botEventLoopP99Ms: Number(cpu2.eventLoopP99Ms.toFixed(1)),
      botStages: cpu2.turnStages,
    });
  } finally {
    await setup.close();
  }
}
