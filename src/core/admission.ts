import type { Registry } from 'prom-client';
import { counter, gauge } from './metrics.js';

/** Held by one admitted call; `release()` is idempotent, so every path that ends a call may call it. */
export interface Permit {
  release(): void;
}

/**
 * Admission control: at most `max` calls run on this instance, whatever the backend. Every call holds per-call
 * native memory (a VAD session, buffers, sockets), so the cap is what bounds the process's memory under any
 * traffic shape. A call over the cap is refused before anything is allocated for it, in the backend's own terms
 * (SIP 503 through Asterisk, `sip:decline` 503 on jambonz, WebSocket close 1013), and counted.
 *
 * One instance per app, shared by every backend; kept in this small module so it can move into whatever runs
 * the backends' calls.
 */
export class Admission {
  readonly max: number;
  #active = 0;
  readonly #refused;
  readonly #admitted;
  readonly #gauge;

  constructor(max: number, metrics: Registry) {
    this.max = max;
    this.#refused = counter(metrics, 'voicebot_calls_refused_total', 'Calls refused by admission control', ['backend']);
    this.#admitted = counter(metrics, 'voicebot_calls_admitted_total', 'Calls admitted', ['backend']);
    this.#gauge = gauge(metrics, 'voicebot_calls_admitted_active', 'Admitted calls not yet released');
    gauge(metrics, 'voicebot_calls_admission_limit', 'Concurrent-call cap (telephony.maxConcurrentCalls)').set(max);
  }

  #closed = false;

  get active(): number {
    return this.#active;
  }

  /** Draining: every new call is refused from now on (running calls keep their permits). */
  close(): void {
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A permit, or null (counted as a refusal) when `max` calls are running or the instance is draining.
   * `evenWhenDraining`: the call was admitted before the drain began (an Asterisk per-call websocket accepted then),
   * so draining does not refuse it; the cap still does.
   */
  tryAcquire(backend: string, opts: { evenWhenDraining?: boolean } = {}): Permit | null {
    if ((this.#closed && !opts.evenWhenDraining) || this.#active >= this.max) {
      this.#refused.inc({ backend });
      return null;
    }
    this.#active++;
    this.#gauge.set(this.#active);
    this.#admitted.inc({ backend });
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.#active--;
        this.#gauge.set(this.#active);
      },
    };
  }
}
