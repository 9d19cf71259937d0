import { randomUUID } from 'node:crypto';
import type { TransferOutcome, TransferRequest, TransferResult, TransferTarget } from '../port.js';
import type { AsteriskConfig } from '../config.js';
import type { AriEvent } from './ari-types.js';
import type { AsteriskCall } from './asterisk-call.js';

/** Dial string for a target: endpoints as given, other kinds through the configured templates. */
export function dialString(target: TransferTarget, templates: AsteriskConfig['dialTemplates']): string {
  if (target.kind === 'endpoint') return target.address;
  return templates[target.kind].replaceAll('{address}', target.address);
}

/** X-Voicebot-* headers as PJSIP_HEADER(add,…) channel variables: PJSIP adds them to the INVITE. */
export function sipHeaderVariables(headers: Record<string, string>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[A-Za-z0-9-]+$/.test(name)) continue; // never let a header name break the variable syntax
    vars[`PJSIP_HEADER(add,${name})`] = value;
  }
  return vars;
}

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
      return null;
    default:
      return 'failed'; // CHANUNAVAIL, CONGESTION, CANCEL, DONTCALL, TORTURE, INVALIDARGS
  }
}

/** Extra seconds past the dial timeout before we stop waiting ourselves. */
const DIAL_GRACE_MS = 5000;

/**
 * Originate the agent leg (channels/create + dial) with the headers, music on hold for the caller while it
 * rings, and wait for the Dial outcome. Answered: the agent joins the caller's bridge (see AsteriskCall.handOff).
 * Anything else: the agent leg is gone, MOH stops, the call stays with the bot.
 */
export async function transferToAgent(
  call: AsteriskCall,
  request: TransferRequest,
  signal: AbortSignal,
): Promise<TransferResult> {
  const { client, config } = call.ctx;
  const agentId = `vb-agent-${randomUUID()}`;
  const endpoint = dialString(request.target, config.dialTemplates);
  const log = call.log.child({ agentChannelId: agentId, endpoint });
  let outcome: { outcome: TransferOutcome; detail: string } | null = null;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const decide = (o: TransferOutcome, detail: string) => {
    if (outcome) return;
    outcome = { outcome: o, detail };
    settle();
  };
  const onEvent = (ev: AriEvent) => {
    if (ev.type === 'Dial') {
      const o = dialOutcome(ev.dialstatus);
      if (o) decide(o, ev.dialstatus);
    } else if (ev.type === 'ChannelDestroyed' || ev.type === 'StasisEnd') {
      decide(
        'failed',
        `agent channel ended (${ev.type === 'ChannelDestroyed' ? (ev.cause_txt ?? ev.cause ?? '') : 'StasisEnd'})`,
      );
    }
  };
  const unwatch = call.watchChannel(agentId, onEvent);
  const { clock } = call.ctx;
  const timer = clock.setTimeout(
    () => decide('no-answer', 'timeout'),
    request.target.timeoutSec * 1000 + DIAL_GRACE_MS,
  );
  const onAbort = () => decide('failed', 'aborted');
  signal.addEventListener('abort', onAbort, { once: true });
  let moh = false;
  try {
    await client.startMoh(call.ids.bridgeId, signal);
    moh = true;
    await client.createChannel(
      {
        endpoint,
        channelId: agentId,
        callerId: call.from || undefined,
        variables: sipHeaderVariables(request.headers),
      },
      signal,
    );
    await client.dial(agentId, request.target.timeoutSec, signal);
    log.info('agent leg dialling');
    await settled;
  } catch (err) {
    decide('failed', err instanceof Error ? err.message : String(err));
  } finally {
    clock.clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    unwatch();
  }
  const result: { outcome: TransferOutcome; detail: string } = outcome ?? { outcome: 'failed', detail: 'no outcome' };
  if (moh) await client.stopMoh(call.ids.bridgeId).catch(() => undefined);
  if (result.outcome === 'answered' && !call.ended) {
    try {
      await call.handOff(agentId, call.signal);
      log.info('agent answered and joined the bridge');
      return result;
    } catch (err) {
      result.outcome = 'failed';
      result.detail = `agent answered but could not join: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  // not answered (or could not join): make sure the agent leg is gone
  call.forgetChannel(agentId);
  await client.hangup(agentId).catch(() => undefined);
  log.info({ outcome: result.outcome, detail: result.detail }, 'transfer not completed');
  return result;
}
