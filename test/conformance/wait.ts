import type { CallEvent } from '../../src/core/call-events.js';
import type { TestDeps } from '../../src/dialog/scripted.js';

import { waitFor } from '../helpers/wait.js';

export { waitFor };

type StateEvent = Extract<CallEvent, { type: 'state' }>;

export function states(deps: TestDeps, callId: string): StateEvent[] {
  return deps.published.filter((e): e is StateEvent => e.type === 'state' && e.callId === callId);
}

/** The bot is listening (its prompt finished) or the call is over. */
export async function untilListening(deps: TestDeps, callId: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () => ['listening', 'ended'].includes(states(deps, callId).at(-1)?.to ?? ''),
    timeoutMs,
    'the bot to listen',
  );
}

/** The bot has taken `turns` turns (been thinking that often) and is listening again, or the call ended. */
export async function untilTurns(deps: TestDeps, callId: string, turns: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    () => {
      const s = states(deps, callId);
      const last = s.at(-1)?.to;
      return last === 'ended' || (s.filter((e) => e.to === 'thinking').length >= turns && last === 'listening');
    },
    timeoutMs,
    `${turns} bot turn(s)`,
  );
}

/** What a peer's caller can send: a WAV file and silence, both faster than real time with `speed`. */
interface CallerAudio {
  sendWav(path: string, opts: { speed: number }): Promise<void>;
  sendSilence(ms: number, opts: { speed: number }): Promise<void>;
}

/** CallDriver.say for any backend: once the bot listens, the caller says the file, then silence ends the turn. */
export function sayOnCue(deps: TestDeps, callId: string, caller: CallerAudio): (wav: string) => Promise<void> {
  return async (wav) => {
    await untilListening(deps, callId);
    await caller.sendWav(wav, { speed: 4 });
    await caller.sendSilence(800, { speed: 4 });
  };
}
