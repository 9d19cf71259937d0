import type { CallSession, SessionStore } from '../../session/store.js';
import { SESSION_PREFIX, type AsteriskCall, type StoredAsteriskCall } from './asterisk-call.js';
import type { AsteriskCallHost } from './call-host.js';
import { isOwnId } from './release-retry.js';

/** What a reopened per-call websocket carries, as the app's channels and the session store tell it. */
export interface ReopenedCall {
  /** the stored call to take over (null: none) */
  stored: CallSession | null;
  /**
   * callers in the app, not served here, with no stored call: a new call (its StasisStart follows at once) or one
   * whose process died in its first moments, before it stored anything
   */
  unstored: string[];
  /** our own channels and bridges in the app: what such a process left (a per-call app carries one call) */
  leftovers: { channels: string[]; bridges: string[] };
  /**
   * the stored call's caller is in neither the app nor the socket's events: it left Stasis, and the event that said
   * so went to the process that was letting go of the call (see findReopenedCall)
   */
  callerLeft: boolean;
}

/**
 * The call a reopened per-call websocket carries. Asterisk reopens a dropped per-call socket to the same uri
 * (behind a load balancer: possibly this instance) and sends nothing about the call it carries: no StasisStart again
 * (the caller is still in Stasis), only the events queued while it was down and ApplicationRegistered
 * (res/ari/ari_websockets.c session_update). The app's channels say which call it is (GET /applications/{app}), and
 * so do the queued events (a caller who hung up in the gap has left the app); the one whose session is in the store
 * and that this process does not hold is a call to take over.
 */
export async function findReopenedCall(
  host: AsteriskCallHost,
  app: string,
  isLocal: (channelId: string) => boolean,
  /** the caller's id as seen in the socket's events (it may have left the app already) */
  named: Iterable<string> = [],
): Promise<ReopenedCall> {
  const application = await host.client.getApplication(app);
  const own = (id: string) => isOwnId(id, host.config.app);
  const found: ReopenedCall = {
    stored: null,
    unstored: [],
    leftovers: { channels: application.channel_ids.filter(own), bridges: application.bridge_ids.filter(own) },
    callerLeft: false,
  };
  const inApp = new Set(application.channel_ids);
  const callers = [...new Set([...application.channel_ids, ...named])].filter((id) => !own(id));
  for (const channelId of callers) {
    // a call this process serves is not taken over
    if (isLocal(channelId)) continue;
    const stored = await host.sessions.get(SESSION_PREFIX + channelId);
    if (stored?.backend === 'asterisk' && stored.state !== 'ended') return { ...found, stored };
    if (!stored && inApp.has(channelId)) found.unstored.push(channelId);
  }
  const { channels, bridges } = found.leftovers;
  if (callers.length === 0 && channels.length + bridges.length > 0) {
    // What a served call leaves in its app (our media leg, its bridge) and no caller: the caller left while the
    // process that served the call let it go (drain). Its hang-up went out on that process's socket, still open,
    // which routed it to nobody, so nothing was queued for this one; the store still has the call, by app. (A new
    // call's app has no leftovers: this costs it no look at the whole store.)
    const stored = (await host.sessions.list()).find(
      (s) =>
        s.backend === 'asterisk' &&
        s.callId.startsWith(SESSION_PREFIX) &&
        s.state !== 'ended' &&
        (s.backendData as Partial<StoredAsteriskCall>).app === app &&
        !isLocal(s.callId.slice(SESSION_PREFIX.length)),
    );
    if (stored) return { ...found, stored, callerLeft: true };
  }
  return found;
}

/** Bounded retries of the read-modify-write below (only a process that has not noticed it lost the call competes). */
const WRITE_ATTEMPTS = 3;

/**
 * After a takeover: the store names this process as the call's owner and keeps where the call now lives on Asterisk
 * (our media leg), dialog state untouched, by compare-and-set. The old owner, if it still runs, learns at its next
 * write that it lost the call; the next takeover hangs up our leg, not the long-gone one. False: not written.
 */
export async function recordTakeover(sessions: SessionStore, call: AsteriskCall, owner: string): Promise<boolean> {
  for (let i = 0; i < WRITE_ATTEMPTS; i++) {
    const current = await sessions.get(SESSION_PREFIX + call.id);
    if (!current) return false;
    const next = { ...current, backendData: { ...call.storedIds() }, owner, updatedAt: new Date().toISOString() };
    if ((await sessions.compareAndSet(next, current.rev ?? 0)) !== null) return true;
  }
  return false;
}
