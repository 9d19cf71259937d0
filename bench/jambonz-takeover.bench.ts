/**
 * jambonz takeover after a crash, SIMULATED: two bot instances (in this process) share Redis sessions and leases
 * behind an HTTP balancer; jambonz is the emulator. Each round places a call on A, kills A like `kill -9` (its sockets
 * destroyed, its timers stopped, every store write refused; test/jambonz/instances.ts) mid-prompt (even rounds: as the
 * caller first hears the greeting) or while the bot listens (odd rounds), and measures, at the caller's ear, the time
 * from the kill to the first bot audio heard again (B's resume prompt). A round with no bot audio within 15 s counts
 * as a failure. WS API mode (session:reconnect through the balancer) and webhook mode (the dead listen's actionHook
 * through the balancer) are measured apart. Lease length: TAKEOVER_LEASE_MS (default 1000; session.leaseMs).
 */
import { createLogger } from '../src/log/logger.js';
import { MemoryRecordSink } from '../src/dialog/scripted.js';
import { RedisLeaseStore } from '../src/session/lease.js';
import { RedisSessionStore } from '../src/session/redis-store.js';
import { startRedis } from '../test/helpers/redis.js';
import { waitFor } from '../test/helpers/wait.js';
import { firstAudibleAfter, startTakeoverRig, type Shared } from '../test/jambonz/instances.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'jambonz-takeover';
const KILLS = Number(process.env.TAKEOVER_KILLS ?? sized(20, 2));
const LEASE_MS = Number(process.env.TAKEOVER_LEASE_MS ?? 1000);
const GRACE_MS = 1500;
const HEARD_WITHIN_MS = 15_000;

const redis = await startRedis();
const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

/** One round: a call on A, A killed, ms until the caller hears B (null: never, within the bound). */
async function round(mode: 'ws' | 'webhook', i: number): Promise<number | null> {
  const prefix = `bench${i}${mode}:`;
  const shared: Shared = {
    sessions: new RedisSessionStore({ url: redis.url, keyPrefix: prefix, ttlSeconds: 600, logger }),
    leases: new RedisLeaseStore({ url: redis.url, keyPrefix: prefix }),
    records: new MemoryRecordSink(),
    leaseMs: LEASE_MS,
    reconnectGraceMs: GRACE_MS,
  };
  const rig = await startTakeoverRig(mode, shared, { a: [], b: [] });
  try {
    const call = await rig.emu.placeCall({ from: `+1555100${i}`, to: '+15550000' });
    const placedAt = performance.now();
    if (i % 2 === 0) {
      await waitFor(() => firstAudibleAfter(call, placedAt) !== null, 10_000, 'greeting heard');
    } else {
      const listening = () => rig.a.deps.published.some((e) => e.type === 'state' && e.to === 'listening');
      await waitFor(listening, 10_000, 'greeting said');
      await waitFor(async () => (await shared.sessions.get(call.callSid))?.state === 'listening', 3000, 'stored');
    }
    const killedAt = performance.now();
    rig.a.kill();
    try {
      await waitFor(() => firstAudibleAfter(call, killedAt) !== null, HEARD_WITHIN_MS, 'bot audio again', 10);
    } catch {
      return null;
    }
    const heardAt = firstAudibleAfter(call, killedAt)!;
    await call.hangup();
    await waitFor(() => rig.b.finished.length === 1, 5000, "B's end of the call").catch(() => undefined);
    return heardAt - killedAt;
  } finally {
    await rig.close();
    await shared.sessions.close();
    await shared.leases.close();
  }
}

try {
  for (const mode of ['ws', 'webhook'] as const) {
    const samples: number[] = [];
    let failures = 0;
    for (let i = 0; i < KILLS; i++) {
      const ms = await round(mode, i);
      if (ms === null) failures++;
      else samples.push(ms);
    }
    const extra = { mode, kills: KILLS, failures, leaseMs: LEASE_MS, simulated: 'in-process kill, jambonz emulator' };
    figure(BENCH, `crash_to_bot_audio_p50_${mode}`, percentile(samples, 0.5), 'ms', extra);
    figure(BENCH, `crash_to_bot_audio_p95_${mode}`, percentile(samples, 0.95), 'ms', extra);
    figure(BENCH, `crash_to_bot_audio_max_${mode}`, samples.length ? Math.max(...samples) : 0, 'ms', extra);
    figure(BENCH, `lost_calls_${mode}`, failures, 'calls', extra);
  }
} finally {
  await redis.stop();
}
