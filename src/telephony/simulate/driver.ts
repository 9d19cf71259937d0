import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import type { CallEventBus, CallState } from '../../core/call-events.js';
import type { CallRecord } from '../../core/call-record.js';
import type { CallLeg } from '../port.js';
import { SIM_FRAME_MS, type SimulatedCallLeg, type TickResult } from './simulated-leg.js';
import { deadline } from '../../core/deadline.js';

export interface SimulatedTurn {
  /** caller speech, PCM16 at 8 kHz */
  pcm8k: Int16Array;
  label: string;
}

export interface SimulationOptions {
  leg: SimulatedCallLeg;
  events: CallEventBus;
  turns: readonly SimulatedTurn[];
  /** runs the call core on the leg: `(leg, signal) => runCall(leg, deps, signal)` */
  run: (leg: CallLeg, signal: AbortSignal) => Promise<CallRecord>;
  /**
   * accelerated: the line advances only while someone has audio to send, as fast as the core keeps up
   * (processing time costs no line time). realtime: one tick per 20 ms on an absolute clock.
   */
  pace?: 'accelerated' | 'realtime';
  /** realtime only: feed a turn's audio at once except its last N ms (bench: saves wall time) */
  realtimeTailMs?: number;
  /** silence after a turn before giving up on the bot reacting (line time), default 3000 ms */
  maxTrailingSilenceMs?: number;
  /** longest the bot may stay silent and idle (wall time) before the simulation hangs up, default 60 s */
  idleTimeoutMs?: number;
  /**
   * The recogniser (TurnAsr): while an ended utterance is still being recognised the dialog has not heard it,
   * so accelerated time waits for it instead of running the line on.
   */
  recogniser?: { busy(): boolean; onActivity(cb: () => void): () => void };
  /** before turn `index`'s audio is fed */
  beforeTurn?: (index: number) => void;
  onTick?: (tick: TickResult) => void;
  signal?: AbortSignal;
}

export interface TurnReport {
  label: string;
  /** did the bot react (leave "listening") after the turn? */
  botReacted: boolean;
}

export interface SimulationResult {
  record: CallRecord;
  turns: TurnReport[];
  /** what the caller heard, 8 kHz PCM16, one frame per tick */
  botAudio: Int16Array;
  /** line time in ms */
  lineMs: number;
}

export class SimulationError extends Error {
  override name = 'SimulationError';
}

/** Plays caller turns into a simulated call, waiting for the bot to finish speaking before each turn. */
export async function runSimulatedCall(opts: SimulationOptions): Promise<SimulationResult> {
  const { leg, events } = opts;
  const realtime = opts.pace === 'realtime';
  const tailTicks = Math.ceil((opts.realtimeTailMs ?? Number.POSITIVE_INFINITY) / SIM_FRAME_MS);
  const maxSilenceTicks = Math.ceil((opts.maxTrailingSilenceMs ?? 3000) / SIM_FRAME_MS);
  const idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });

  // an object, so TypeScript does not narrow fields that event callbacks change
  const call: { state: CallState | null; over: boolean } = { state: null, over: false };
  const unsubscribe = events.subscribe((event) => {
    if (event.callId !== leg.id) return;
    if (event.type === 'state') call.state = event.to;
    if (event.type === 'call-ended') call.over = true;
    leg.nudge();
  });
  const offRecogniser = opts.recogniser?.onActivity(() => leg.nudge());
  const running = opts.run(leg, abort.signal).finally(() => {
    call.over = true;
    leg.nudge();
  });

  let clockStart = performance.now();
  let clockTick = 0;
  const ended = () => call.over || leg.ended || abort.signal.aborted;
  const recognising = () => opts.recogniser?.busy() ?? false;
  const botIdle = () => call.state === 'listening' && leg.botQueuedSamples === 0 && !recognising();

  const tick = async (): Promise<void> => {
    const fast = leg.callerQueuedFrames > tailTicks;
    if (realtime && !fast) {
      clockTick++;
      const wait = clockStart + clockTick * SIM_FRAME_MS - performance.now();
      if (wait > 0) await sleep(wait, undefined, { signal: abort.signal }).catch(() => undefined);
    } else {
      await yieldToEventLoop();
      clockStart = performance.now();
      clockTick = 0;
    }
    if (ended()) return;
    const result = leg.tick();
    opts.onTick?.(result);
  };

  /** Advance the line until `done()`; in accelerated pace, sleep (without line time) while nobody has audio. */
  const pump = async (done: () => boolean, feedSilence: () => boolean = () => false): Promise<void> => {
    while (!done() && !ended()) {
      const work = leg.callerQueuedFrames > 0 || leg.botQueuedSamples > 0 || feedSilence();
      if (realtime || work) {
        await tick();
        continue;
      }
      const idle = deadline(idleTimeoutMs, abort.signal);
      await leg.nextActivity(idle.signal).finally(() => idle.dispose());
      if (idle.timedOut && !done() && !ended()) {
        throw new SimulationError(`the bot stayed idle for ${idleTimeoutMs} ms in state "${call.state ?? 'none'}"`);
      }
    }
  };

  const reports: TurnReport[] = [];
  let failure: unknown;
  try {
    for (const [index, turn] of opts.turns.entries()) {
      await pump(botIdle);
      if (ended()) break;
      opts.beforeTurn?.(index);
      leg.queueCallerAudio(turn.pcm8k, index);
      await pump(() => leg.callerQueuedFrames === 0);
      // line silence until the bot reacts; accelerated time stands still while the recogniser works
      const silenceFrom = leg.ticks;
      const silenceLeft = () => leg.ticks - silenceFrom < maxSilenceTicks;
      await pump(
        () => call.state !== 'listening' || (!silenceLeft() && !recognising()),
        () => call.state === 'listening' && silenceLeft() && !recognising(),
      );
      reports.push({ label: turn.label, botReacted: call.state !== 'listening' });
    }
    await pump(botIdle);
  } catch (err) {
    failure = err; // still hang up and let the core finish before reporting it
  } finally {
    leg.callerHangup('caller-hangup');
    offRecogniser?.();
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  try {
    const record = await settleWithin(running, END_GRACE_MS, () =>
      abort.abort(new SimulationError('call core did not end')),
    );
    if (failure !== undefined) throw failure;
    return { record, turns: reports, botAudio: leg.recording(), lineMs: leg.ticks * SIM_FRAME_MS };
  } finally {
    unsubscribe();
  }
}

/** How long the core gets to finish after the caller hung up, then again after being aborted. */
const END_GRACE_MS = 10_000;

async function settleWithin<T>(p: Promise<T>, ms: number, onLate: () => void): Promise<T> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const timeout = AbortSignal.timeout(ms);
    const late = new Promise<'late'>((resolve) =>
      timeout.addEventListener('abort', () => resolve('late'), { once: true }),
    );
    const winner = await Promise.race([p, late]);
    if (winner !== 'late') return winner;
    if (attempt === 0) onLate();
  }
  throw new SimulationError(`call core did not finish within ${2 * ms} ms of the hangup`);
}
