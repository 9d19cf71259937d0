import type { Admission, Permit } from '../core/admission.js';
import { Waiters } from '../core/waiters.js';
import type { Logger } from '../log/logger.js';
import type { CallLeg } from './port.js';

/** What runs the bot on a call: the call core's `runCall`, given to `TelephonyBackend.start`. */
export type OnCall = (call: CallLeg) => Promise<void>;

/** Why a call was not taken: the backend answers it the way its peer expects (close code, hangup verb, 503…). */
export type Refusal = 'not-started' | 'stopping' | 'busy';

export interface SupervisedCall {
  leg: CallLeg;
  /** this call's logger */
  log: Logger;
  /** Before the bot: media setup. A throw ends the call (hung up with `setup failed`) without running the bot. */
  setup?: () => Promise<void>;
  /** Runs the bot; default `onCall(leg)`. Backends wrap it for what comes first (a recording notice). */
  serve?: (onCall: OnCall) => Promise<void>;
  /** bot-side hangup reason once the bot returns (default `bot finished`) */
  hangupReason?: string;
}

export interface CallSupervisorOptions {
  logger: Logger;
  /** calls beyond this many at once are refused with `busy` (default: no limit) */
  maxCalls?: number;
  /** the app's concurrent-call cap (telephony.maxConcurrentCalls), counted; refusals are `busy` */
  admission?: Admission;
  /** label for admission's counters */
  backend?: string;
  /** how long stop() waits for running calls to finish once they have been told to end (default 5 s) */
  stopTimeoutMs?: number;
}

/**
 * The one "run a call, always hang up" loop every backend uses. It decides whether a new call is taken at all
 * (admission: started, not stopping, under `maxCalls`), runs the bot on it so that one failing call never affects
 * another, always hangs the leg up afterwards, and lets shutdown wait for the running calls, bounded.
 */
export class CallSupervisor {
  readonly #log: Logger;
  readonly #maxCalls: number;
  readonly #stopTimeoutMs: number;
  readonly #admission: Admission | undefined;
  readonly #backend: string;
  readonly #running = new Map<CallLeg, Promise<void>>();
  readonly #idle = new Waiters();
  #onCall: OnCall | null = null;
  #stopping = false;

  constructor(opts: CallSupervisorOptions) {
    this.#log = opts.logger;
    this.#maxCalls = opts.maxCalls ?? Number.POSITIVE_INFINITY;
    this.#stopTimeoutMs = opts.stopTimeoutMs ?? 5000;
    this.#admission = opts.admission;
    this.#backend = opts.backend ?? 'unknown';
  }

  /** calls being set up or served right now */
  get active(): number {
    return this.#running.size;
  }

  get started(): boolean {
    return this.#onCall !== null && !this.#stopping;
  }

  /** Take calls from now on, running `onCall` on each. */
  start(onCall: OnCall): void {
    this.#onCall = onCall;
    this.#stopping = false;
  }

  /**
   * Whether a call arriving now would be refused, and why (null: take it). Backends ask before they build a leg,
   * so a refused call costs nothing; admission control (a cap on concurrent calls) belongs here.
   */
  refusal(): Refusal | null {
    if (this.#stopping) return 'stopping';
    if (!this.#onCall) return 'not-started';
    if (this.#running.size >= this.#maxCalls) return 'busy';
    return null;
  }

  /**
   * Take a place for a call arriving now: a permit (give it to run(), or release it if the call never runs), or the
   * refusal. A place is held from arrival, not from run(): a jambonz call holds one while its audio connects.
   */
  admit(opts: { evenWhenDraining?: boolean } = {}): Permit | Refusal {
    const refusal = this.refusal();
    if (refusal) return refusal;
    if (!this.#admission) return { release: () => undefined };
    return this.#admission.tryAcquire(this.#backend, opts) ?? 'busy';
  }

  /** Set up and serve one call; resolves when it is over and hung up (then its permit is given back). Never rejects. */
  run(call: SupervisedCall, permit?: Permit): Promise<void> {
    const onCall = this.#onCall;
    const { leg, log } = call;
    const done = (async () => {
      if (!onCall) return void (await this.#hangup(call, 'not started'));
      try {
        await call.setup?.();
      } catch (err) {
        log.error({ err: errText(err) }, 'call setup failed');
        return void (await this.#hangup(call, 'setup failed'));
      }
      try {
        await (call.serve ? call.serve(onCall) : onCall(leg));
      } catch (err) {
        log.error({ err: errText(err) }, 'call handler failed');
      }
      await this.#hangup(call, call.hangupReason ?? 'bot finished');
    })();
    this.#running.set(leg, done);
    void done.finally(() => {
      permit?.release();
      this.#running.delete(leg);
      if (this.#running.size === 0) this.#idle.resolveAll();
    });
    return done;
  }

  /**
   * Stop taking calls, then wait (at most stopTimeoutMs) for the running ones to finish: the backend tells them
   * to end first (hangup, hand-over), so one stuck handler cannot block shutdown.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#onCall = null;
    if (this.#running.size === 0) return;
    await this.#idle.wait({ timeoutMs: this.#stopTimeoutMs }).catch(() => {
      this.#log.warn({ running: this.#running.size }, 'calls still running at shutdown');
    });
  }

  async #hangup(call: SupervisedCall, reason: string): Promise<void> {
    try {
      await call.leg.hangup(reason);
    } catch (err) {
      call.log.warn({ err: errText(err) }, 'hangup failed');
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
