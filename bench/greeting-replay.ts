/**
 * The barge-in bench's greetings replayed offline (bench/lib/greeting-replay.ts): the real echo stage and fast onset
 * cue, no VAD, no call core. SIMULATED line, as the bench's. Not a bench (bench/run.ts does not run it): the quick
 * look at where the greeting's callers are heard that docs/barge-in.md calls "the replay"; the bench stays the measure.
 *
 *   npx tsx bench/greeting-replay.ts
 *
 * REPLAY_GREETINGS: greetings per line (default 200); REPLAY_CONDITIONS: lines as JSON (default the bench's five:
 * 20/150/300 ms at 6 dB, 300 ms at 30 dB, no echo); REPLAY_NO_CALLER=1: the echo alone (cues and echo let through
 * instead of callers); REPLAY_ECHO: `speech.echo` overrides as JSON; REPLAY_FIRST_PLAYED_MS: when the bot's first
 * frame goes out (default 40, as in the call core). Prints JSON figure lines; greetings are listed by index.
 */
import { echoConfig } from '../src/speech/echo/config.js';
import { figure, percentile } from './lib/figure.js';
import { replayGreetings } from './lib/greeting-replay.js';

const BENCH = 'greeting-replay';
const GREETINGS = Number(process.env.REPLAY_GREETINGS ?? 200);
const CONDITIONS = JSON.parse(
  process.env.REPLAY_CONDITIONS ??
    '[{"delayMs":20,"erlDb":6},{"delayMs":150,"erlDb":6},{"delayMs":300,"erlDb":6},{"delayMs":300,"erlDb":30},{"delayMs":20,"erlDb":60}]',
) as Array<{ delayMs: number; erlDb: number }>;
const echo = echoConfig.parse(JSON.parse(process.env.REPLAY_ECHO ?? '{}'));
const firstPlayedMs = Number(process.env.REPLAY_FIRST_PLAYED_MS ?? 40);
const simulated = 'offline replay: echo stage and fast cue only, no VAD';

for (const cond of CONDITIONS) {
  const tag = { ...cond, greetings: GREETINGS, simulated };
  const opts = { ...cond, greetings: GREETINGS, echo, firstPlayedMs };
  if (process.env.REPLAY_NO_CALLER === '1') {
    const { cued, leaked } = replayGreetings({ ...opts, noCaller: true });
    figure(BENCH, 'echo_alone_cued', cued.length, 'greetings', { ...tag, greetingsCued: cued });
    figure(BENCH, 'echo_alone_leaked_40ms', leaked.length, 'greetings', { ...tag, greetingsLeaked: leaked });
    continue;
  }
  const { latencies, late, missed } = replayGreetings(opts);
  figure(BENCH, 'callers_late_or_missed', late.length + missed.length, 'greetings', {
    ...tag,
    late: late.length,
    missed: missed.length,
    greetingsLate: late,
    greetingsMissed: missed,
  });
  figure(BENCH, 'onset_to_cue_p50', percentile(latencies, 0.5), 'ms', tag);
  figure(BENCH, 'onset_to_cue_p95', percentile(latencies, 0.95), 'ms', { ...tag, target: 300 });
}
