/**
 * A signal that aborts after `ms`, or as soon as `parent` aborts.
 *
 * Use this instead of `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: on Node 20 the timeout signal inside a
 * composite can be garbage-collected before it fires (nodejs/node#57736), so the bound silently disappears. Here the
 * timer holds the controller strongly. Call `dispose()` when the operation is over: it stops the timer and detaches
 * from a long-lived parent (a call's signal) so repeated requests do not pile up listeners on it.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** the time ran out (as opposed to the parent aborting) */
  readonly timedOut: boolean;
  /** stop the clock but keep following the parent (a bound on a reply's arrival, not on its streamed body) */
  stopTimer(): void;
  dispose(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const onParentAbort = () => controller.abort(parent?.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError'));
  }, ms);
  timer.unref(); // like AbortSignal.timeout: a pending bound alone does not keep the process up
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    stopTimer() {
      clearTimeout(timer);
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
