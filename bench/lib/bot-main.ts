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
import type { BotReport, BotRequest } from './bot-process.js';

const overrides = JSON.parse(process.env.BENCH_BOT_CONFIG ?? '{}') as Record<string, unknown>;
const config = loadConfig({ env: {}, overrides });
const app = await startApp(config);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

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
    });
    loop.reset();
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
