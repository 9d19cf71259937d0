import type { Admission } from './admission.js';
import { backgroundTimer, systemClock, type Clock } from './clock.js';
import type { Readiness } from './readiness.js';

export interface DrainOptions {
  readiness: Readiness;
  /** shared by every backend: closing it refuses new calls in each backend's own terms (SIP 503, sip:decline, 1013) */
  admission: Admission;
  /** how long running calls may go on before they are detached for another instance to take over, ms */
  timeoutMs: number;
  /** detach what is still running (state stays in the session store; the backend leaves the calls up) */
  detachRemaining(): Promise<void>;
  clock?: Clock;
  /** how often the running calls are counted, ms */
  pollMs?: number;
}

export type DrainResult = { finished: true; detached: 0 } | { finished: false; detached: number };

/**
 * Graceful drain (SIGTERM): not ready at once (/readyz 503, so a load balancer stops sending calls), no new calls,
 * running calls finish on their own; past `timeoutMs` the rest are detached for takeover, never cut off.
 */
export async function drainCalls(opts: DrainOptions): Promise<DrainResult> {
  const clock = opts.clock ?? systemClock;
  const pollMs = opts.pollMs ?? 100;
  opts.readiness.set('drain', false, 'draining: finishing running calls, taking no new ones');
  opts.admission.close();
  const deadline = clock.now() + opts.timeoutMs;
  while (opts.admission.active > 0 && clock.now() < deadline) {
    await new Promise<void>((resolve) => backgroundTimer(clock, resolve, Math.min(pollMs, deadline - clock.now())));
  }
  const remaining = opts.admission.active;
  if (remaining === 0) return { finished: true, detached: 0 };
  await opts.detachRemaining();
  return { finished: false, detached: remaining };
}
