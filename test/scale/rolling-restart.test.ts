/**
 * A rolling restart under load with real processes (issue 18): 3 instances (`voicebot start` each), 12 callers at
 * all times, Asterisk (the ARI emulator, its own process) opening one websocket per call through a round-robin
 * balancer. Each instance in turn gets SIGTERM: it is not ready at once (the balancer's health check leaves it
 * out), refuses new calls' websocket upgrades (Asterisk retries them on the next instance), lets its running calls
 * finish or, past session.drainTimeoutSec, detaches them (their websockets close, Asterisk reopens each to another
 * instance, which takes the call over); then it exits and a fresh process takes its place.
 * 0 lost calls: every caller finishes its script, one end record per call, nothing goes to the dialplan fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botLines, BotCluster, GREETING, RESUME_PROMPT, rollingRestart } from '../helpers/crash-harness.js';
import { waitFor } from '../helpers/wait.js';

const CALLS = 12;
/** calls last ~20 s: some finish within the drain timeout, the rest are detached and taken over */
const DRAIN_SEC = 4;

describe('rolling restart of 3 instances under 12 calls', () => {
  let cluster: BotCluster;

  beforeAll(async () => {
    // a detached call's lease is given up at once: the default lease length costs a drain nothing
    cluster = await BotCluster.start({ leaseMs: 3000, drainTimeoutSec: DRAIN_SEC });
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('each instance drains and is replaced in turn: 0 lost calls, one end record each', async () => {
    const { calls, restarts, placeFailures } = await rollingRestart(cluster, { calls: CALLS });
    const why = () => `${cluster.output()}\n${JSON.stringify(restarts)}`;

    expect(restarts.map((r) => r.slot)).toEqual([0, 1, 2]);
    for (const r of restarts) {
      // not ready from the signal on (503 while it drains; 0 if it had nothing to drain and was gone already)
      expect([503, 0], why()).toContain(r.readyzWhileDraining);
      expect(r.exit, why()).toEqual({ code: 0, signal: null });
    }
    expect(restarts.some((r) => r.readyzWhileDraining === 503)).toBe(true);
    // each instance had calls to drain, and its fresh replacement takes calls again
    expect(
      restarts.map((r) => r.owned > 0),
      why(),
    ).toEqual([true, true, true]);
    expect(
      restarts.map((r) => r.freshTook !== null),
      why(),
    ).toEqual([true, true, true]);
    expect(placeFailures, why()).toEqual([]);
    expect(calls.length).toBeGreaterThan(CALLS); // load went on while instances restarted
    const failed = calls.filter((c) => c.failure !== null).map((c) => `${c.from}: ${c.failure}`);
    expect(failed, why()).toEqual([]);
    expect(calls.filter((c) => c.wentToDialplan).map((c) => c.from)).toEqual([]);

    const ids = calls.map((c) => c.channelId);
    const unrecorded = () => ids.filter((id) => !cluster.endRecords().has(id));
    // a call without one names itself, with what each process logged about it (CRASH_LOG_LEVEL=info: every step)
    const traces = () => unrecorded().map((id) => `--- ${id}\n${cluster.trace(id)}`);
    await waitFor(() => unrecorded().length === 0, 30_000, 'an end record for every call').catch((err: Error) => {
      throw new Error([err.message, ...traces()].join('\n'));
    });
    const records = cluster.endRecords();
    let resumed = 0;
    for (const id of ids) {
      const mine = records.get(id)!;
      expect(mine, id).toHaveLength(1);
      const transcript = mine[0]!.transcript;
      // a bot line cut before its first word (the caller barged in at once) is told by where it stands
      const bot = botLines(transcript);
      expect(bot[0], id).toBe(GREETING);
      expect(bot.filter((l) => l === GREETING).length, id).toBe(1);
      resumed += bot.filter((l) => l === RESUME_PROMPT).length;
      const lines = transcript.filter((e) => e.speaker === 'caller').map((e) => e.text);
      expect(new Set(lines).size, id).toBe(lines.length);
      expect(lines.length, id).toBeGreaterThanOrEqual(3);
    }
    // calls outlived the drain timeout: they were detached and taken over by another instance, not cut off
    expect(resumed, why()).toBeGreaterThan(0);

    const snap = await cluster.snapshot();
    expect(snap.appHangups.filter((h) => h.reason === 'congestion')).toEqual([]);
    await cluster.released();
    // the last calls' bridges go right after their channels (the bot's last release request): bounded wait, then
    // anything left is a leak
    await waitFor(async () => (await cluster.snapshot()).bridges.length === 0, 10_000, 'every bridge destroyed').catch(
      () => undefined,
    );
    const after = await cluster.snapshot();
    expect(after.channels).toEqual([]);
    expect(
      after.bridges,
      JSON.stringify(after.bridgeRequests.filter((r) => after.bridges.some((b) => r.path.includes(b.id)))),
    ).toEqual([]);
    expect(after.openMediaTo).toEqual([]);
  }, 300_000);
});
