/**
 * Crash takeover, measured at the caller's ear (issue 18): 3 bot instances (`voicebot start`, each its own process),
 * one redis-server, the ARI emulator in its own process opening one websocket per call through a round-robin
 * balancer (websocket_client.conf as shipped: 500 ms timeout and reconnect interval, 4 attempts), 12 callers saying
 * real speech clips (test/helpers/crash-harness.ts; the words come from a scripted recogniser behind the real
 * `openai` ASR provider: simulated). An instance is killed (-9) while a caller hears a prompt, the next one while a
 * caller is mid-turn, and so on, each time with a fresh process started in its place, until 20 crashes per
 * `session.leaseMs` value. One instance is down at a time: the next kill waits until the last one's replacement is
 * ready (kills faster than a process starts once left no instance alive, and the calls went to the dialplan).
 *
 * Figure: for every call the dead process owned, ms from the kill to the first bot audio its caller hears again
 * (the resume prompt), p50/p95/max; every such call counts, and one that never hears the bot again (15 s) is a
 * failure (`calls_not_recovered`). `calls_lost`: calls in those rounds that did not finish their script or did not
 * get exactly one end record. `spurious_resumes`: resume prompts beyond the crashes a call lived through (a lease
 * that ran out under a live process).
 */
import {
  botLines,
  BotCluster,
  crashRound,
  RESUME_PROMPT,
  TURN_CLIPS,
  type KillMoment,
} from '../test/helpers/crash-harness.js';
import { waitFor } from '../test/helpers/wait.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'takeover';
/** session.leaseMs values (TAKEOVER_BENCH_LEASES=1000,3000 for fewer) */
const LEASES = process.env.TAKEOVER_BENCH_LEASES?.split(',').map(Number) ?? sized([1000, 2000, 3000], [1000]);
const CRASHES = Number(process.env.TAKEOVER_BENCH_CRASHES ?? sized(20, 1));
const CALLS = Number(process.env.TAKEOVER_BENCH_CALLS ?? sized(12, 2));
const INSTANCES = sized(3, 2);
/** crashes per round of calls: the calls last long enough for this many kills, each after the last recovered */
const PER_ROUND = sized(4, 1);
/** a round's script: the shipped clips, twice over, so calls outlive PER_ROUND crashes */
const TURNS = sized([...TURN_CLIPS, ...TURN_CLIPS], TURN_CLIPS.slice(0, 2));

for (const leaseMs of LEASES) {
  const cluster = await BotCluster.start({ leaseMs, instances: INSTANCES });
  const recoveries: number[] = [];
  const worstPerCrash: number[] = [];
  let crashes = 0;
  let notRecovered = 0;
  let lost = 0;
  let spurious = 0;
  let calls = 0;
  try {
    for (let round = 0; crashes < CRASHES; round++) {
      const moments: KillMoment[] = Array.from({ length: Math.min(PER_ROUND, CRASHES - crashes) }, (_, i) =>
        (crashes + i) % 2 === 0 ? 'mid-prompt' : 'mid-caller-turn',
      );
      const result = await crashRound(cluster, {
        calls: CALLS,
        moments,
        from: round * CALLS,
        turns: TURNS,
        recoverTimeoutMs: 15_000,
        oneDownAtATime: true,
      });
      calls += result.calls.length;
      for (const crash of result.crashes) {
        crashes++;
        const times = crash.affected.map((a) => (a.recoveredAt === null ? null : a.recoveredAt - crash.at));
        for (const t of times) if (t === null) notRecovered++;
        const heard = times.filter((t): t is number => t !== null);
        recoveries.push(...heard);
        if (heard.length > 0) worstPerCrash.push(Math.max(...heard));
      }
      const ids = result.calls.map((c) => c.channelId);
      await waitFor(() => ids.every((id) => cluster.endRecords().has(id)), 30_000, 'end records').catch(
        () => undefined,
      );
      const records = cluster.endRecords();
      for (const call of result.calls) {
        const mine = records.get(call.channelId) ?? [];
        if (call.failure !== null || call.wentToDialplan || mine.length !== 1) lost++;
        const resumes = botLines(mine[0]?.transcript ?? [], call.resumedAt).filter((l) => l === RESUME_PROMPT);
        spurious += Math.max(0, resumes.length - call.kills.length);
      }
    }
  } finally {
    await cluster.close();
  }
  const extra = {
    leaseMs,
    crashes,
    samples: recoveries.length + notRecovered,
    instances: INSTANCES,
    concurrentCalls: CALLS,
    simulated: 'callers and Asterisk (ARI emulator), recognised words (scripted ASR)',
  };
  figure(BENCH, 'crash_to_bot_audio_p50', percentile(recoveries, 0.5), 'ms', extra);
  figure(BENCH, 'crash_to_bot_audio_p95', percentile(recoveries, 0.95), 'ms', extra);
  figure(BENCH, 'crash_to_bot_audio_max', recoveries.length ? Math.max(...recoveries) : 0, 'ms', extra);
  figure(BENCH, 'crash_worst_call_p95', percentile(worstPerCrash, 0.95), 'ms', extra);
  figure(BENCH, 'calls_not_recovered', notRecovered, 'calls', extra);
  figure(BENCH, 'calls_lost', lost, 'calls', { ...extra, calls });
  figure(BENCH, 'spurious_resumes', spurious, 'resumes', { ...extra, calls });
}
