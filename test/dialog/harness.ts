import type { CallEvent, CallState } from '../../src/core/call-events.js';
import type { CallRecord } from '../../src/core/call-record.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, type TestDeps, type TestDepsOverrides } from '../../src/dialog/scripted.js';
import { MemoryLeg, type MemoryLegOptions } from '../../src/dialog/testing/memory-leg.js';
import { FakeClock } from '../helpers/fake-clock.js';

export const SUPPORT_LINE = new URL('../../examples/support-line.yaml', import.meta.url).pathname;

export interface CallHarness {
  leg: MemoryLeg;
  deps: TestDeps;
  /**
   * The call's timer clock. It stands still unless the test moves it, or, with `timersFollowAudio`, it moves with the
   * leg's simulated time (every caller frame fed advances it by the frame's length).
   */
  clock: FakeClock;
  done: Promise<CallRecord>;
  states(): Array<{ from: CallState | null; to: CallState; cause: string }>;
  state(): CallState | null;
  events<T extends CallEvent['type']>(type: T): Array<Extract<CallEvent, { type: T }>>;
  /** pump silence until the call is listening with nothing playing */
  untilListening(): Promise<void>;
  /** the caller says something (a tone the energy VAD hears), then silence until the bot listens again */
  say(ms?: number): Promise<void>;
}

export function startCall(
  opts: {
    leg?: MemoryLegOptions;
    deps?: TestDepsOverrides;
    signal?: AbortSignal;
    /** adjust the deps before the call starts (e.g. swap in the real VAD) */
    prepare?: (deps: TestDeps) => void;
    /** the timers run on the leg's simulated time: 8 s of fed silence is 8 s on the call's clock */
    timersFollowAudio?: boolean;
  } = {},
): CallHarness {
  const leg = new MemoryLeg(opts.leg);
  const clock = new FakeClock();
  if (opts.timersFollowAudio) {
    const advance = leg.advance.bind(leg);
    leg.advance = (ms: number) => {
      advance(ms);
      clock.advance(ms);
    };
  }
  const deps = createTestDeps({ clock, ...opts.deps });
  opts.prepare?.(deps);
  const done = runCall(leg, deps, opts.signal);
  const stateEvents = () =>
    deps.published.filter((e): e is Extract<CallEvent, { type: 'state' }> => e.type === 'state' && e.callId === leg.id);
  const h: CallHarness = {
    leg,
    deps,
    clock,
    done,
    states: () => stateEvents().map(({ from, to, cause }) => ({ from, to, cause })),
    state: () => stateEvents().at(-1)?.to ?? null,
    events: <T extends CallEvent['type']>(type: T) =>
      deps.published.filter((e): e is Extract<CallEvent, { type: T }> => e.type === type),
    untilListening: () => leg.pumpUntil(() => h.state() === 'listening' || h.state() === 'ended'),
    async say(ms = 600) {
      const turns = h.states().filter((s) => s.to === 'thinking').length;
      await leg.feedTone(ms);
      // the turn is over once the bot has been thinking and is listening again (or the call ended)
      await leg.pumpUntil(
        () =>
          h.state() === 'ended' ||
          (h.states().filter((s) => s.to === 'thinking').length > turns && h.state() === 'listening'),
      );
    },
  };
  return h;
}
