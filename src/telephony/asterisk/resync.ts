import { ariChannel, type AriChannel, type AriEvent } from './ari-types.js';
import type { CallSession } from '../../session/store.js';
import { SESSION_PREFIX, type AsteriskCall, type StoredAsteriskCall } from './asterisk-call.js';
import type { AsteriskCallHost } from './call-host.js';
import { isOwnId } from './release-retry.js';

/**
 * After (re)connecting, trust Asterisk, not local state: events during the gap are lost. Calls whose channels
 * are gone are released; a transfer that was answered or ended meanwhile gets the event it missed; sessions of
 * calls this process does not hold (a restart, a dead instance) are taken over when their caller and bridge are up.
 */
export async function resynchronise(
  host: AsteriskCallHost,
  calls: Map<string, AsteriskCall>,
  takeOver: (stored: CallSession) => void,
  why: string,
): Promise<void> {
  const { client, router, logger } = host;
  const [channels, bridges] = await Promise.all([client.listChannels(), client.listBridges()]);
  const byId = new Map(channels.map((c) => [c.id, c]));
  const bridgeIds = new Set(bridges.map((b) => b.id));
  for (const c of channels) router.markStarted(c.id);
  let released = 0;

  for (const call of [...calls.values()]) {
    if (call.ended || !call.ready) continue;
    const { callerChannelId, mediaChannelId, bridgeId } = call.ids;
    if (!byId.has(callerChannelId)) {
      released++;
      await call.end('caller left while ARI was disconnected', { hangupCaller: false });
    } else if (!bridgeIds.has(bridgeId) || (!call.botLeft && call.ids.remote && !byId.has(mediaChannelId))) {
      released++;
      await call.end('bridge or media channel lost while ARI was disconnected', { hangupCaller: true });
    } else {
      replayMissedAgentEvents(call, byId, router.dispatch.bind(router));
    }
  }

  const reattached = await reattachSessions(host, calls, byId, bridgeIds, takeOver);
  const swept = await sweepOrphans(host, calls, channels, bridges);
  logger.info(
    { why, channels: channels.length, bridges: bridges.length, released, reattached, swept },
    'ARI state resynchronised',
  );
}

/**
 * Channels and bridges of ours (by id prefix) that no live call, pending dial or stored session owns are
 * leftovers (a release that failed while Asterisk's HTTP side was down, a crash mid-setup): delete them.
 */
async function sweepOrphans(
  host: AsteriskCallHost,
  calls: Map<string, AsteriskCall>,
  channels: AriChannel[],
  bridges: Array<{ id: string }>,
): Promise<number> {
  const { client, router, sessions, config, logger } = host;
  const owned = new Set<string>();
  for (const call of calls.values()) {
    if (call.ended) continue;
    const { callerChannelId, mediaChannelId, bridgeId } = call.ids;
    for (const id of [
      callerChannelId,
      mediaChannelId,
      bridgeId,
      call.agentChannelId,
      ...call.pendingChannels(),
      ...call.tapIds,
    ])
      if (id) owned.add(id);
  }
  for (const s of await sessions.list()) {
    if (s.backend !== 'asterisk') continue;
    for (const v of Object.values(s.backendData)) if (typeof v === 'string') owned.add(v);
  }
  let swept = 0;
  for (const ch of channels) {
    if (!isOwnId(ch.id, config.app) || owned.has(ch.id) || router.isOwn(ch.id)) continue;
    swept++;
    logger.warn({ channelId: ch.id }, 'orphaned channel of ours found in a resync: hanging it up');
    await client.hangup(ch.id).catch(() => undefined);
  }
  for (const b of bridges) {
    if (!isOwnId(b.id, config.app) || owned.has(b.id)) continue;
    swept++;
    logger.warn({ bridgeId: b.id }, 'orphaned bridge of ours found in a resync: destroying it');
    await client.destroyBridge(b.id).catch(() => undefined);
  }
  return swept;
}

/** A pending agent leg answered or ended during the gap: replay the Dial outcome it missed. */
function replayMissedAgentEvents(
  call: AsteriskCall,
  byId: Map<string, AriChannel>,
  dispatch: (ev: AriEvent) => boolean,
): void {
  for (const channelId of pendingAgentChannels(call)) {
    const ch = byId.get(channelId);
    if (!ch) dispatch({ type: 'ChannelDestroyed', channel: ariChannel.parse({ id: channelId }) });
    else if (ch.state === 'Up') dispatch({ type: 'Dial', dialstatus: 'ANSWER', peer: ch });
  }
}

function pendingAgentChannels(call: AsteriskCall): string[] {
  return call.pendingChannels();
}

/**
 * Sessions of calls this process does not hold whose caller and bridge are still up: take them over (`takeOver`
 * claims each one's lease, builds a media leg of ours and resumes the dialog). Only calls whose Stasis app this
 * connection carries: a per-call socket's call is taken over where Asterisk reopens that socket, another instance's
 * app is that instance's. Leftovers of calls nobody can serve any more are released.
 */
async function reattachSessions(
  host: AsteriskCallHost,
  calls: Map<string, AsteriskCall>,
  byId: Map<string, AriChannel>,
  bridgeIds: Set<string>,
  takeOver: (stored: CallSession) => void,
): Promise<number> {
  const { sessions, client } = host;
  let reattached = 0;
  for (const s of await sessions.list()) {
    if (s.backend !== 'asterisk' || !s.callId.startsWith(SESSION_PREFIX)) continue;
    const callId = s.callId.slice(SESSION_PREFIX.length);
    const ids = s.backendData as unknown as StoredAsteriskCall;
    if (calls.has(callId) || (ids.app !== undefined && ids.app !== client.app)) continue;
    const caller = byId.get(ids.callerChannelId);
    if (ids.agentChannelId) {
      // handed to a person: never ours to serve or to cut; its bookkeeping is taken over (watch both people, release
      // the rest when one hangs up, write the end record the old process may owe)
      takeOver(s);
      reattached++;
      continue;
    }
    if (!caller || !bridgeIds.has(ids.bridgeId)) {
      // leftovers of a call nobody can serve any more: release them on Asterisk too
      await client.hangup(ids.mediaChannelId).catch(() => undefined);
      if (caller) await client.hangup(ids.callerChannelId).catch(() => undefined);
      await client.destroyBridge(ids.bridgeId).catch(() => undefined);
      await sessions.delete(s.callId);
      continue;
    }
    takeOver(s);
    reattached++;
  }
  return reattached;
}
