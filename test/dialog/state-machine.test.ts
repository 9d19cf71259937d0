import { describe, expect, it } from 'vitest';
import type { CallState } from '../../src/core/call-events.js';
import {
  DialogStateMachine,
  IllegalTransitionError,
  TRANSITIONS,
  type DialogEventType,
  type Transition,
} from '../../src/dialog/state-machine.js';

const ALL_EVENTS: DialogEventType[] = [
  'start',
  'promptDone',
  'bargeIn',
  'utterance',
  'dtmf',
  'reply',
  'resumePrompt',
  'nothingToSay',
  'transfer',
  'transferAnswered',
  'transferFailed',
  'noInput',
  'callTimeWarning',
  'callTimeLimit',
  'monologueCut',
  'asrGrace',
  'transferTimeout',
  'resume',
  'botHangup',
  'hangup',
  'error',
];

/** The expected policy, written out independently of the implementation's table. */
const LEGAL: Array<[CallState | 'idle', DialogEventType, CallState]> = [
  ['idle', 'start', 'greeting'],
  ['idle', 'resume', 'thinking'],
  ['idle', 'hangup', 'ended'],
  ['idle', 'error', 'ended'],
  ['greeting', 'promptDone', 'listening'],
  ['greeting', 'bargeIn', 'listening'],
  ['greeting', 'hangup', 'ended'],
  ['greeting', 'botHangup', 'ended'],
  ['greeting', 'error', 'ended'],
  ['listening', 'utterance', 'thinking'],
  ['listening', 'dtmf', 'thinking'],
  ['listening', 'noInput', 'thinking'],
  ['listening', 'callTimeWarning', 'thinking'],
  ['listening', 'callTimeLimit', 'thinking'],
  ['listening', 'monologueCut', 'thinking'],
  ['listening', 'asrGrace', 'thinking'],
  ['listening', 'resumePrompt', 'speaking'],
  ['listening', 'hangup', 'ended'],
  ['listening', 'botHangup', 'ended'],
  ['listening', 'error', 'ended'],
  ['thinking', 'reply', 'speaking'],
  ['thinking', 'nothingToSay', 'listening'],
  ['thinking', 'hangup', 'ended'],
  ['thinking', 'botHangup', 'ended'],
  ['thinking', 'error', 'ended'],
  ['speaking', 'promptDone', 'listening'],
  ['speaking', 'bargeIn', 'listening'],
  ['speaking', 'transfer', 'transferring'],
  ['speaking', 'hangup', 'ended'],
  ['speaking', 'botHangup', 'ended'],
  ['speaking', 'error', 'ended'],
  ['transferring', 'transferAnswered', 'ended'],
  ['transferring', 'transferFailed', 'speaking'],
  ['transferring', 'transferTimeout', 'speaking'],
  ['transferring', 'hangup', 'ended'],
  ['transferring', 'botHangup', 'ended'],
  ['transferring', 'error', 'ended'],
];

/** Shortest event path from idle to each state. */
const PATH: Record<CallState | 'idle', DialogEventType[]> = {
  idle: [],
  greeting: ['start'],
  listening: ['start', 'promptDone'],
  thinking: ['start', 'promptDone', 'utterance'],
  speaking: ['start', 'promptDone', 'utterance', 'reply'],
  transferring: ['start', 'promptDone', 'utterance', 'reply', 'transfer'],
  ended: ['hangup'],
};

function machineIn(state: CallState | 'idle', log: Transition[] = []): DialogStateMachine {
  const m = new DialogStateMachine((t) => log.push(t));
  for (const type of PATH[state]) m.dispatch({ type });
  return m;
}

describe('DialogStateMachine', () => {
  it.each(LEGAL)('%s --%s--> %s', (from, event, to) => {
    const log: Transition[] = [];
    const m = machineIn(from, log);
    const before = log.length;
    expect(m.dispatch({ type: event, detail: 'because' })).toBe(to);
    expect(m.state).toBe(to);
    expect(log.length).toBe(before + 1);
    expect(log.at(-1)).toEqual({ from: from === 'idle' ? null : from, to, event: { type: event, detail: 'because' } });
  });

  const illegal = (Object.keys(PATH) as Array<CallState | 'idle'>).flatMap((from) =>
    ALL_EVENTS.filter((e) => !LEGAL.some(([f, ev]) => f === from && ev === e)).map(
      (e): [CallState | 'idle', DialogEventType] => [from, e],
    ),
  );

  it.each(illegal)('rejects %s --%s--> as illegal, leaving the state alone', (from, event) => {
    const log: Transition[] = [];
    const m = machineIn(from, log);
    const before = log.length;
    expect(m.can(event)).toBe(false);
    expect(() => m.dispatch({ type: event })).toThrow(IllegalTransitionError);
    expect(m.state).toBe(from === 'idle' ? null : from);
    expect(log.length).toBe(before);
  });

  it('the implementation table matches the written policy exactly', () => {
    const implemented = Object.entries(TRANSITIONS).flatMap(([from, row]) =>
      Object.entries(row).map(([event, to]) => `${from}:${event}:${to}`),
    );
    expect(implemented.sort()).toEqual(LEGAL.map((l) => l.join(':')).sort());
  });

  it('ended is terminal', () => {
    const m = machineIn('ended');
    expect(m.ended).toBe(true);
    for (const e of ALL_EVENTS) expect(m.can(e)).toBe(false);
    expect(() => m.dispatch({ type: 'start' })).toThrow(/illegal dialog transition: "start" in state "ended"/);
  });
});
