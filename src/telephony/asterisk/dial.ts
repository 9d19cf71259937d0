import type { Clock } from '../../core/clock.js';
import type { TransferOutcome } from '../port.js';
import { DialWait } from '../dial-wait.js';
import type { AriClient } from './ari-client.js';
import type { AriChannel, AriEvent } from './ari-types.js';
import type { ChannelRouter } from './channel-router.js';

/** Q.850 causes Asterisk reports for a dialled leg that never answered (main/causes.h). */
const CAUSE_BUSY = 17;
const CAUSE_NO_USER_RESPONSE = 18;
const CAUSE_NO_ANSWER = 19;

/**
 * How a dialled leg that hung up before answering ended. On a real Asterisk a busy or unanswered PJSIP leg is a
 * hangup with a cause, never a Dial BUSY/NOANSWER (FACTS §1b: chan_pjsip maps 486 → 17, 408 → 18, 480 → 19, and
 * the ARI dial timeout hangs up with 19). The SIP code (`tech_cause`) decides when the cause is missing.
 */
export function outcomeFromCause(cause: number | undefined, sipCode?: number): TransferOutcome {
  if (cause === CAUSE_BUSY || sipCode === 486 || sipCode === 600) return 'busy';
  if (cause === CAUSE_NO_ANSWER || cause === CAUSE_NO_USER_RESPONSE || sipCode === 480 || sipCode === 408)
    return 'no-answer';
  return 'failed';
}

/** A Dial event's status: only ANSWER is final on a real Asterisk; the rest come from Local chains and the like. */
export function dialOutcome(dialstatus: string): TransferOutcome | null {
  switch (dialstatus) {
    case 'ANSWER':
      return 'answered';
    case 'BUSY':
      return 'busy';
    case 'NOANSWER':
      return 'no-answer';
    case '':
    case 'RINGING':
    case 'PROGRESS':
    case 'PROCEEDING':
      return null;
    default:
      return 'failed'; // CHANUNAVAIL, CONGESTION, CANCEL, DONTCALL, TORTURE, INVALIDARGS
  }
}

/** The outcome an event decides for a dialled leg, or null while it is still ringing. */
export function legOutcome(ev: AriEvent): { outcome: TransferOutcome; detail: string } | null {
  switch (ev.type) {
    case 'Dial': {
      const o = dialOutcome(ev.dialstatus);
      return o ? { outcome: o, detail: ev.dialstatus } : null;
    }
    case 'ChannelHangupRequest': {
      // a hangup request without a cause (a soft one) is not the end yet; ChannelDestroyed follows
      if (!ev.cause) return null;
      return { outcome: outcomeFromCause(ev.cause, techCause(ev)), detail: causeDetail(ev.cause, techCause(ev)) };
    }
    case 'ChannelDestroyed':
      return {
        outcome: outcomeFromCause(ev.cause, techCause(ev)),
        detail: causeDetail(ev.cause, techCause(ev), ev.cause_txt),
      };
    default:
      return null;
  }
}

function techCause(ev: { tech_cause?: number | undefined }): number | undefined {
  return ev.tech_cause;
}

function causeDetail(cause: number | undefined, sip: number | undefined, text?: string): string {
  const parts = [`cause ${cause ?? '?'}${text ? ` ${text}` : ''}`];
  if (sip) parts.push(`SIP ${sip}`);
  return parts.join(', ');
}

/** Extra time past the dial timeout before we stop waiting ourselves (Asterisk hangs the leg up at the timeout). */
const DIAL_GRACE_MS = 5000;

export interface DialRequest {
  channelId: string;
  endpoint: string;
  timeoutSec: number;
  /** channel variables set at create (SIP headers, CONNECTEDLINE(num) for outbound caller id) */
  variables?: Record<string, string>;
  /** dial?caller=: this channel's caller id becomes the callee's connected line (what the far end sees) */
  callerChannelId?: string;
}

export interface DialDeps {
  client: AriClient;
  router: ChannelRouter;
  /** the dial timeout runs on this clock */
  clock: Clock;
  stasisTimeoutMs: number;
  /** route the leg's events to `listener` until the returned function is called */
  watch: (channelId: string, listener: (ev: AriEvent) => void) => () => void;
}

export interface DialResult {
  outcome: TransferOutcome;
  detail: string;
  /** the created channel (null when create failed) */
  channel: AriChannel | null;
}

/**
 * Create a leg, wait for its StasisStart (dial before it answers 409 "Channel not in Stasis application": create
 * returns as soon as the Stasis thread is spawned), dial it and wait until it answers or ends. The caller hangs up
 * a leg that did not answer.
 */
export async function dialAndWait(deps: DialDeps, req: DialRequest, signal: AbortSignal): Promise<DialResult> {
  const { client, router } = deps;
  const wait = new DialWait({ clock: deps.clock, signal });
  const unwatch = deps.watch(req.channelId, (ev) => {
    const o = legOutcome(ev);
    if (o) wait.decide(o);
  });
  let channel: AriChannel | null = null;
  try {
    // registered before the request: never trust the order of the reply and the event
    const inStasis = router.waitForStasis(req.channelId, deps.stasisTimeoutMs, signal);
    inStasis.catch(() => undefined);
    channel = await client.createChannel(
      { endpoint: req.endpoint, channelId: req.channelId, ...(req.variables ? { variables: req.variables } : {}) },
      signal,
    );
    await Promise.race([inStasis, wait.result]);
    if (!wait.decided) {
      await client.dial(req.channelId, req.timeoutSec, req.callerChannelId, signal);
      wait.ring(req.timeoutSec * 1000 + DIAL_GRACE_MS, { outcome: 'no-answer', detail: 'timeout' });
    }
  } catch (err) {
    wait.decide({ outcome: 'failed', detail: err instanceof Error ? err.message : String(err) });
  }
  try {
    const { outcome, detail } = await wait.result;
    return { outcome, detail: detail ?? '', channel };
  } finally {
    wait.dispose();
    unwatch();
  }
}
