/**
 * Scale-out on one box: the product (`voicebot start`, each instance its own process) as 1, 2 and 3 instances behind
 * a round-robin TCP proxy, one redis-server (sessions + BullMQ outbox), the ARI emulator opening one outbound
 * websocket per call (FACTS §1c). A call (simulated caller): placed, the bot's greeting heard (≥ 300 ms audible), hung
 * up, its ticket filed through the shared outbox. Every call counts: one that is not greeted within 20 s or whose
 * ticket never arrives is a failure, and the run prints how many.
 *
 * Figures per instance count: calls/s in total, calls per instance, bot CPU ms per call (all instances' CPU over the
 * calls), Redis commands per call (INFO total_commands_processed over the run: the bots' own and BullMQ's). On a
 * 2-core host expect no gain in total calls/s: the point is that the cost per call stays flat and nothing is lost.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startAriEmulator } from '../test/emulators/ari/index.js';
import { freePort, startRedis } from '../test/helpers/redis.js';
import { perCallThrough, scaledInstanceConfig, startRoundRobinProxy } from '../test/helpers/round-robin-proxy.js';
import { waitFor } from '../test/helpers/wait.js';
import { BotProcess } from './lib/bot-process.js';
import { figure } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'scale';
const CALLS = Number(process.env.SCALE_BENCH_CALLS ?? sized(30, 3));
const CONCURRENT = Number(process.env.SCALE_BENCH_CONCURRENT ?? sized(6, 3));
const COUNTS = sized([1, 2, 3], [1, 2]);

const cpuPerCall: Record<number, number> = {};
for (const n of COUNTS) {
  const dir = mkdtempSync(join(tmpdir(), 'vb-bench-scale-'));
  const tickets = join(dir, 'tickets.jsonl');
  const redis = await startRedis();
  const emu = await startAriEmulator();
  const bots: BotProcess[] = [];
  for (let i = 0; i < n; i++) {
    const rtpPortMin = await freePort();
    bots.push(
      await BotProcess.start({
        log: { level: 'warn' },
        ...scaledInstanceConfig({
          emu,
          redisUrl: redis.url,
          rtpPortMin,
          rtpPorts: CONCURRENT + 2,
          tickets,
          outboxDir: join(dir, `outbox-${i}`),
        }),
      }),
    );
  }
  const proxy = await startRoundRobinProxy(bots.map((b) => Number(new URL(b.url).port)));
  await perCallThrough(emu, proxy);
  const admin = new Redis(redis.url);
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
  const filed = () =>
    existsSync(tickets)
      ? readFileSync(tickets, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l.includes('"event":"end"')).length
      : 0;

  const cpuBefore = await Promise.all(bots.map((b) => b.stats()));
  const commandsBefore = await commands();
  const started = performance.now();
  let greeted = 0;
  let failed = 0;
  for (let placed = 0; placed < CALLS; placed += CONCURRENT) {
    const wave = Math.min(CONCURRENT, CALLS - placed);
    await Promise.all(
      Array.from({ length: wave }, async () => {
        try {
          const caller = await emu.placeCall();
          try {
            while (caller.audibleMs() < 300) await once(caller, 'audio', { signal: AbortSignal.timeout(20_000) });
            greeted++;
          } finally {
            caller.hangup();
          }
        } catch {
          failed++;
        }
      }),
    );
  }
  const callsWall = performance.now() - started;
  await waitFor(() => filed() >= greeted, 30_000, 'tickets').catch(() => undefined);
  const cpuAfter = await Promise.all(bots.map((b) => b.stats()));
  const commandsAfter = await commands();
  const cpuMs = cpuAfter.reduce((s, a, i) => s + a.cpuMs - cpuBefore[i]!.cpuMs, 0);
  cpuPerCall[n] = cpuMs / CALLS;
  const lost = CALLS - filed();

  const extra = { instances: n, calls: CALLS, concurrent: CONCURRENT, simulated: 'callers (ARI emulator)' };
  figure(BENCH, 'calls_per_s_total', (greeted / callsWall) * 1000, 'calls/s', { ...extra, failed });
  figure(BENCH, 'calls_per_instance', Math.min(...proxy.perTarget), 'calls', {
    ...extra,
    perInstance: proxy.perTarget,
  });
  figure(BENCH, 'bot_cpu_ms_per_call', cpuPerCall[n], 'ms', extra);
  figure(BENCH, 'redis_commands_per_call', (commandsAfter - commandsBefore) / CALLS, 'commands', extra);
  figure(BENCH, 'calls_lost', lost + failed, 'calls', { ...extra, ticketsFiled: filed(), notGreeted: failed });

  admin.disconnect();
  for (const b of bots) await b.stop();
  await proxy.close();
  await emu.close();
  await redis.stop();
}
const last = COUNTS[COUNTS.length - 1]!;
figure(BENCH, 'cpu_per_call_ratio_vs_1', cpuPerCall[last]! / cpuPerCall[1]!, 'ratio', { instances: last });
