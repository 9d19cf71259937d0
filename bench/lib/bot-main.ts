/**
 * The bot process of the edge benches: the product as `voicebot start` runs it (startApp with the given config),
 * alone in its process, so the callers and the telephony emulators the bench drives never share its event loop.
 * Config overrides come as JSON in BENCH_BOT_CONFIG. Over the fork IPC channel it reports `ready` (with the web
 * server's URL) and answers `stats` with its pacer totals and CPU time; `stop` shuts the app down and exits.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { pacerProcessTotals } from '../../src/media/pacer.js';
import type { TurnStages } from '../../src/core/call-events.js';
import type { BotReport, BotRequest, TurnStageSummary } from './bot-process.js';
import { percentile } from './figure.js';

const overrides = JSON.parse(process.env.BENCH_BOT_CONFIG ?? '{}') as Record<string, unknown>;
const config = loadConfig({ env: {}, overrides });
const app = await startApp(config);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
// where a turn's time goes inside the bot: every answered turn's stages since the last stats request
let turns: Array<TurnStages & { totalMs: number }> = [];
app.events.subscribe((e) => {
  if (e.type === 'turn-latency') turns.push({ ...e.stages, totalMs: e.totalMs });
});

function stageSummary(): TurnStageSummary {
  const of = (pick: (t: TurnStages & { totalMs: number }) => number) => {
    const v = turns.map(pick);
    return { p50: Math.round(percentile(v, 0.5)), p95: Math.round(percentile(v, 0.95)) };
  };
  return {
    turns: turns.length,
    endpointing: of((t) => t.endpointingMs),
    asr: of((t) => t.asrMs),
    nlu: of((t) => t.nluMs),
    tts: of((t) => t.ttsMs),
    total: of((t) => t.totalMs),
  };
}

function send(report: BotReport): void {
  process.send?.(report);
}

process.on('message', (msg: BotRequest) => {
  if (msg.type === 'stats') {
    const cpu = process.cpuUsage();
    send({
      type: 'stats',
      pacer: pacerProcessTotals(),
      cpuMs: (cpu.user + cpu.system) / 1000,
      eventLoopP99Ms: loop.percentile(99) / 1e6,
      eventLoopMaxMs: loop.max / 1e6,
      turnStages: stageSummary(),
    });
    loop.reset();
    turns = [];
  } else if (msg.type === 'stop') {
    void app.stop().finally(() => {
      process.disconnect?.();
      process.exit(0);
    });
  }
});
process.on('disconnect', () => {
  // the bench went away: do not outlive it
  void app.stop().finally(() => process.exit(0));
});
send({ type: 'ready', url: app.url });
