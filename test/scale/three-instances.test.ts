/**
 * Scale-out on loopback: 3 bot instances (the whole app each, as `voicebot start` builds it) + one redis-server + the
 * ARI emulator in per-call outbound-websocket mode behind a round-robin TCP proxy. 30 calls spread over the
 * instances; each call is served end to end by one instance (one websocket, every ARI request over it, one instance
 * saw it start and end); the agent console on every instance lists all 30; every call's ticket reaches the shared CRM sink through the shared BullMQ outbox.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis.js';
import {
  perCallThrough,
  scaledInstanceConfig,
  startRoundRobinProxy,
  type RoundRobinProxy,
} from '../helpers/round-robin-proxy.js';
import { waitFor } from '../helpers/wait.js';

const INSTANCES = 3;
const CALLS = 30;
const BATCH = 6;

describe('3 bot instances behind a round-robin proxy, Asterisk per-call outbound websockets', () => {
  let redis: RedisServer;
  let emu: AriEmulator;
  let proxy: RoundRobinProxy;
  const apps: RunningApp[] = [];
  const seen: Array<{ started: Set<string>; ended: Set<string> }> = [];
  const dir = mkdtempSync(join(tmpdir(), 'vb-scale-'));
  const tickets = join(dir, 'tickets.jsonl');

  beforeAll(async () => {
    redis = await startRedis();
    emu = await startAriEmulator();
    for (let i = 0; i < INSTANCES; i++) {
      const rtpPortMin = await freePort();
      const overrides = scaledInstanceConfig({
        emu,
        redisUrl: redis.url,
        rtpPortMin,
        rtpPorts: 20,
        tickets,
        outboxDir: join(dir, `outbox-${i}`),
      });
      const config = loadConfig({ env: {}, overrides });
      const app = await startApp(config, { logger: createLogger({ ...config.log, level: 'silent' }) });
      const mine = { started: new Set<string>(), ended: new Set<string>() };
      app.events.subscribe((e) => {
        if (e.type === 'call-started') mine.started.add(e.callId);
        if (e.type === 'call-ended') mine.ended.add(e.callId);
      });
      apps.push(app);
      seen.push(mine);
    }
    proxy = await startRoundRobinProxy(apps.map((a) => Number(new URL(a.url).port)));
    await perCallThrough(emu, proxy);
  }, 120_000);

  afterAll(async () => {
    for (const app of apps) await app.stop();
    await proxy?.close();
    await emu?.close();
    await redis?.stop();
  });

  it('spreads 30 calls over the instances; each is served end to end by one; no call and no ticket is lost', async () => {
    const admin = new Redis(redis.url);
    const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
    const before = await commands();
    const callers: Awaited<ReturnType<AriEmulator['placeCall']>>[] = [];
    for (let b = 0; b < CALLS / BATCH; b++) {
      const batch = await Promise.all(
        Array.from({ length: BATCH }, (_, i) =>
          emu.placeCall({ from: `+1555000${String(b * BATCH + i).padStart(4, '0')}` }),
        ),
      );
      // each caller hears the bot's greeting, then hangs up
      await Promise.all(
        batch.map(async (caller) => {
          while (caller.audibleMs() < 300) await once(caller, 'audio', { signal: AbortSignal.timeout(20_000) });
          caller.hangup();
        }),
      );
      callers.push(...batch);
    }
    const ids = callers.map((c) => c.channelId);
    await waitFor(() => seen.reduce((n, s) => n + s.ended.size, 0) === CALLS, 30_000, 'every call ended');

    // spread: round robin gives every instance its share (10 each, unless a handshake slower than Asterisk's 500 ms
    // connection_timeout made it retry on the next instance), and each call was seen by exactly one instance
    expect(proxy.perTarget.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(CALLS);
    for (const s of seen) expect(s.started.size).toBeGreaterThanOrEqual(5);
    expect(seen.reduce((n, s) => n + s.started.size, 0)).toBe(CALLS);
    for (const id of ids) {
      const owners = seen.filter((s) => s.started.has(id));
      expect(owners, id).toHaveLength(1);
      expect(owners[0]!.ended.has(id), id).toBe(true);
    }
    // end to end on one connection: one websocket per call, every ARI request for it over that one
    expect(emu.outboundConnections).toHaveLength(CALLS);
    expect(emu.outboundConnections.every((c) => !c.reconnect)).toBe(true);
    for (const caller of callers) {
      const conn = emu.outboundConnections.findIndex((c) => c.app === `voicebot:${caller.channelName}`);
      const mine = emu.requests.filter(
        (r) => r.path.includes(caller.channelId) || Object.values(r.query).includes(caller.channelId),
      );
      expect(mine.length, caller.channelId).toBeGreaterThanOrEqual(2); // answer, addChannel
      expect(mine.every((r) => r.via === 'websocket' && r.connection === conn)).toBe(true);
    }
    expect(emu.requests.filter((r) => r.via === 'http')).toHaveLength(0);

    // the agent console on any instance shows all 30 calls (fan-in through Redis)
    for (const app of apps) {
      const listed = async () =>
        new Set(
          (
            (await (await fetch(`${app.url}/agent/api/calls`)).json()) as { calls: Array<{ callId: string }> }
          ).calls.map((c) => c.callId),
        );
      const all = async () => {
        const l = await listed();
        return ids.every((id) => l.has(id));
      };
      await waitFor(all, 10_000, `every call on the console at ${app.url}`);
      const l = await listed();
      expect(ids.filter((id) => !l.has(id))).toEqual([]);
    }

    // nothing left behind, every call's ticket delivered once through the shared outbox
    await waitFor(() => emu.channels.size === 0 && emu.bridges.size === 0, 20_000, 'channels released');
    const filed = () =>
      existsSync(tickets)
        ? new Set(
            readFileSync(tickets, 'utf8')
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as { event: string; record: { callId: string } })
              .filter((t) => t.event === 'end')
              .map((t) => t.record.callId),
          )
        : new Set<string>();
    await waitFor(() => filed().size === CALLS, 30_000, 'all 30 tickets');
    const lines = readFileSync(tickets, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(CALLS); // once each
    expect([...filed()].sort()).toEqual([...ids].sort());
    const opsPerCall = ((await commands()) - before) / CALLS;
    expect(opsPerCall).toBeGreaterThan(0);
    admin.disconnect();
  }, 180_000);
});
