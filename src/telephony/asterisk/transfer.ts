import { randomUUID } from 'node:crypto';
import type { TransferOutcome, TransferRequest, TransferResult, TransferTarget } from '../port.js';
import { dialAndWait } from './dial.js';
import { ownId } from './release-retry.js';
import type { AsteriskConfig } from '../config.js';
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

/**
 * What the agent's phone shows as the caller: the caller's number. For an inbound call `dial?caller=` copies the
 * caller channel's caller id into the agent leg's connected line (channels/create has no callerId parameter); an
 * outbound call's channel carries our own caller id, so the customer's number goes in as CONNECTEDLINE(num).
 */
function agentCallerId(call: AsteriskCall): { callerChannelId?: string; variables: Record<string, string> } {
  if (call.direction === 'inbound') return { callerChannelId: call.ids.callerChannelId, variables: {} };
  return { variables: call.to ? { 'CONNECTEDLINE(num)': call.to } : {} };
}

/**
 * Originate the agent leg (channels/create + dial) with the headers, music on hold for the caller while it
 * rings, and wait for the outcome. Answered: the agent joins the caller's bridge (see AsteriskCall.handOff).
 * Anything else: the agent leg is gone, MOH stops, the call stays with the bot.
 */
export async function transferToAgent(
  call: AsteriskCall,
  request: TransferRequest,
  signal: AbortSignal,
): Promise<TransferResult> {
  const { client, config, router } = call.host;
  const agentId = ownId('agent', config.app, randomUUID());
  const endpoint = dialString(request.target, config.dialTemplates);
  const log = call.log.child({ agentChannelId: agentId, endpoint });
  const callerId = agentCallerId(call);
  let moh = false;
  let result: { outcome: TransferOutcome; detail: string };
  try {
    // the music reaches the bot's own leg too (an Announcer joins the bridge): never hear it as the caller
    call.holdAudio(true);
    await client.startMoh(call.ids.bridgeId, signal);
    moh = true;
    log.info('agent leg dialling');
    result = await dialAndWait(
      {
        client,
        router,
        clock: call.host.clock,
        stasisTimeoutMs: config.stasisTimeoutMs,
        watch: (id, listener) => call.watchChannel(id, listener),
      },
      {
        channelId: agentId,
        endpoint,
        timeoutSec: request.target.timeoutSec,
        variables: { ...sipHeaderVariables(request.headers), ...callerId.variables },
        ...(callerId.callerChannelId ? { callerChannelId: callerId.callerChannelId } : {}),
      },
      signal,
    );
  } catch (err) {
    result = { outcome: 'failed', detail: err instanceof Error ? err.message : String(err) };
  }
  if (moh) await client.stopMoh(call.ids.bridgeId).catch(() => undefined);
  call.holdAudio(false);
  if (result.outcome === 'answered' && !call.ended) {
    try {
      const listening = await call.handOff(agentId, call.signal, request.listen === true);
      log.info({ listening }, 'agent answered and joined the bridge');
      return { outcome: result.outcome, detail: result.detail, ...(listening ? { listening } : {}) };
    } catch (err) {
      result = {
        outcome: 'failed',
        detail: `agent answered but could not join: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
  // not answered (or could not join): make sure the agent leg is gone
  call.forgetChannel(agentId);
  await client.hangup(agentId).catch(() => undefined);
  log.info({ outcome: result.outcome, detail: result.detail }, 'transfer not completed');
  return { outcome: result.outcome, detail: result.detail };
}
