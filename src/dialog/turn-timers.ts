import type { Timers } from '../core/clock.js';

/** The call's own timers; each one that fires becomes an input the conversation acts on in turn. */
export type TurnTimerName = 'noInput' | 'callTimeWarning' | 'callTimeLimit' | 'monologue';

/** A fired timer as the conversation sees it: `id` tells whether it still counts when its turn comes. */
export interface TimerInput {
  kind: 'timer';
  timer: TurnTimerName;
  id: number;
}

/**
 * Named one-shot timers on the injected clock. Arming a name replaces its previous timer; a timer that fired but
 * was disarmed or re-armed before the conversation read it is stale (the caller spoke after all), so `current`
 * answers false for it. Everything here is synchronous: state changes arm and disarm in the same tick.
 */
export class TurnTimers {
  readonly #timers: Timers;
  readonly #onFire: (input: TimerInput) => void;
  readonly #armed = new Map<TurnTimerName, { id: number; handle: unknown }>();
  /** the latest id per name that fired and was not disarmed since */
  readonly #fired = new Map<TurnTimerName, number>();
  #nextId = 1;
  #closed = false;

  constructor(timers: Timers, onFire: (input: TimerInput) => void) {
    this.#timers = timers;
    this.#onFire = onFire;
  }

  /** (Re)starts `name`; `ms` <= 0 or not finite leaves it off. */
  arm(name: TurnTimerName, ms: number): void {
    this.disarm(name);
    if (this.#closed || !(ms > 0) || !Number.isFinite(ms)) return;
    const id = this.#nextId++;
    const handle = this.#timers.setTimeout(() => {
      this.#armed.delete(name);
      this.#fired.set(name, id);
      this.#onFire({ kind: 'timer', timer: name, id });
    }, ms);
    this.#armed.set(name, { id, handle });
  }

  disarm(name: TurnTimerName): void {
    const armed = this.#armed.get(name);
    if (armed) this.#timers.clearTimeout(armed.handle);
    this.#armed.delete(name);
    this.#fired.delete(name);
  }

  isArmed(name: TurnTimerName): boolean {
    return this.#armed.has(name);
  }

  /** Whether a fired timer still stands (nothing disarmed or re-armed it since); consumes it. */
  current(input: TimerInput): boolean {
    if (this.#fired.get(input.timer) !== input.id) return false;
    this.#fired.delete(input.timer);
    return true;
  }

  /** Stops every timer (hangup, detach): nothing fires after this. */
  close(): void {
    this.#closed = true;
    for (const name of [...this.#armed.keys()]) this.disarm(name);
  }
}
