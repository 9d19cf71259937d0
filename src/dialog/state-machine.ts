import type { CallState } from '../core/call-events.js';

/** What moves a call from one turn-taking state to the next. */
export type DialogEventType =
  | 'start'
  | 'promptDone'
  | 'bargeIn'
  | 'utterance'
  | 'dtmf'
  | 'reply'
  /** a barge-in was only noise or echo: the bot says the rest of the cut prompt */
  | 'resumePrompt'
  | 'nothingToSay'
  | 'transfer'
  | 'transferAnswered'
  | 'transferFailed'
  // turn-taking timers (dialog.noInput, dialog.maxCall, dialog.maxMonologueSec, dialog.asrFinalGraceMs, transfer ring)
  | 'noInput'
  | 'callTimeWarning'
  | 'callTimeLimit'
  | 'monologueCut'
  | 'asrGrace'
  | 'transferTimeout'
  // another process picked the call up where this one left it (see call-core resume)
  | 'resume'
  | 'botHangup'
  | 'hangup'
  | 'error';

export interface DialogEvent {
  type: DialogEventType;
  /** free text for logs and the `state` CallEvent, e.g. "barge-in after 420 ms" */
  detail?: string;
}

type From = CallState | 'idle';

const ENDINGS = { hangup: 'ended', botHangup: 'ended', error: 'ended' } as const;

/** The whole turn-taking policy in one table: anything not listed is an illegal transition. */
export const TRANSITIONS: Readonly<Record<From, Partial<Record<DialogEventType, CallState>>>> = {
  idle: { start: 'greeting', resume: 'thinking', hangup: 'ended', error: 'ended' },
  greeting: { promptDone: 'listening', bargeIn: 'listening', ...ENDINGS },
  listening: {
    utterance: 'thinking',
    dtmf: 'thinking',
    // the bot takes the turn itself: silence, the call's clock, or a caller turn cut short / recognised late
    noInput: 'thinking',
    callTimeWarning: 'thinking',
    callTimeLimit: 'thinking',
    monologueCut: 'thinking',
    asrGrace: 'thinking',
    resumePrompt: 'speaking',
    ...ENDINGS,
  },
  thinking: { reply: 'speaking', nothingToSay: 'listening', ...ENDINGS },
  speaking: { promptDone: 'listening', bargeIn: 'listening', transfer: 'transferring', ...ENDINGS },
  transferring: { transferAnswered: 'ended', transferFailed: 'speaking', transferTimeout: 'speaking', ...ENDINGS },
  ended: {},
};

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: From,
    readonly event: DialogEventType,
  ) {
    super(`illegal dialog transition: "${event}" in state "${from}"`);
    this.name = 'IllegalTransitionError';
  }
}

export interface Transition {
  from: CallState | null;
  to: CallState;
  event: DialogEvent;
}

/** Per-call state machine. `onTransition` runs synchronously for every change (log + CallEvent). */
export class DialogStateMachine {
  #state: From = 'idle';
  readonly #onTransition: (t: Transition) => void;

  constructor(onTransition: (t: Transition) => void = () => {}) {
    this.#onTransition = onTransition;
  }

  /** null before `start` */
  get state(): CallState | null {
    return this.#state === 'idle' ? null : this.#state;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  can(type: DialogEventType): boolean {
    return TRANSITIONS[this.#state][type] !== undefined;
  }

  /** Applies the event or throws IllegalTransitionError. */
  dispatch(event: DialogEvent): CallState {
    const to = TRANSITIONS[this.#state][event.type];
    if (!to) throw new IllegalTransitionError(this.#state, event.type);
    const from = this.state;
    this.#state = to;
    this.#onTransition({ from, to, event });
    return to;
  }
}
