/**
 * A rolling restart under load with real processes (issue 18): 3 instances (`voicebot start` each), 12 callers at
 * all times, Asterisk (the ARI emulator, its own process) opening one websocket per call through a round-robin
 * balancer. Each instance in turn gets SIGTERM: it is not ready at once, refuses new calls' websocket upgrades (so
 * Asterisk retries them on the next instance), lets its running calls finish or, past session.drainTimeoutSec,
 * detaches them for another instance to take over; then it exits and a fresh process takes its place.
 * 0 lost calls: every caller finishes its script, one end record per call, nothing goes to the dialplan fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotCluster, GREETING, rollingRestart } from '../helpers/crash-harness.js';
import { waitFor } from '../helpers/wait.js';

const CALLS = 12;

describe('rolling restart of 3 instances under 12 calls', () => {
  let cluster: BotCluster;

  beforeAll(async () => {
    cluster = await BotCluster.start({ leaseMs: 3000, drainTimeoutSec: 60 });
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('each instance drains and is replaced in turn: 0 lost calls, one end record each', async () => {
    const { calls, restarts, placeFailures } = await rollingRestart(cluster, { calls: CALLS });
    const why = () => `${cluster.output()}\n${JSON.stringify(restarts)}`;

    expect(restarts.map((r) => r.slot)).toEqual([0, 1, 2]);
    for (const r of restarts) {
      expect(r.readyzWhileDraining, why()).toBe(503);
      expect(r.exit, why()).toEqual({ code: 0, signal: null });
    }
    expect(placeFailures, why()).toEqual([]);
    expect(calls.length).toBeGreaterThan(CALLS); // load went on while instances restarted
    expect(
      calls.filter((c) => c.failure !== null).map((c) => `${c.from}: ${c.failure}`),
      why(),
    ).toEqual([]);
    expect(calls.filter((c) => c.wentToDialplan)).toEqual([]);

    const ids = calls.map((c) => c.channelId);
    await waitFor(() => ids.every((id) => cluster.endRecords().has(id)), 30_000, 'an end record for every call');
    const records = cluster.endRecords();
    for (const id of ids) {
      const mine = records.get(id)!;
      expect(mine, id).toHaveLength(1);
      const bot = mine[0]!.transcript.filter((e) => e.speaker === 'bot').map((e) => e.text);
      expect(
        bot.filter((t) => t === GREETING),
        id,
      ).toHaveLength(1);
      expect(mine[0]!.transcript.filter((e) => e.speaker === 'caller').length, id).toBeGreaterThanOrEqual(3);
    }
    const snap = await cluster.snapshot();
    await waitFor(async () => (await cluster.snapshot()).channels.length === 0, 10_000, 'channels released');
    expect(snap.appHangups.filter((h) => h.reason === 'congestion')).toEqual([]);
    const after = await cluster.snapshot();
    expect(after.bridges).toBe(0);
    expect(after.openMediaTo).toEqual([]);
  }, 300_000);
});
