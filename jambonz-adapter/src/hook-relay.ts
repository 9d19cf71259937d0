import type { JambonzVerb } from './verbs.js';

/** Marks a hook one instance passed on to another: the receiver answers it itself, never passes it on again. */
export const RELAYED_HEADER = 'x-voicebot-relayed';
/** Query parameter of our webhook hooks' URLs: the instance that asked for the hook (its `instanceUrl`). */
export const VIA_PARAM = 'via';
/**
 * How long the instance that got a hook waits for the one it names: a live instance answers in milliseconds; a dead
 * one refuses at once (its port is closed) or, host gone, costs this much before the takeover's own wait.
 */
const RELAY_TIMEOUT_MS = 1500;

/**
 * With webhooks every hook reaches jambonz's balancer, which may hand it to any instance; only the instance serving
 * the call can answer it (the verbs the bot queued, its transfer, a new listen to itself when its listen socket
 * dropped). The instance that got it passes it on, byte for byte with jambonz's signature, to the instance named in
 * the hook's URL and returns that one's verbs. null: that instance did not answer (dead, or no verbs).
 */
export async function relayHook(
  target: string,
  raw: Buffer,
  signature: string | undefined,
  fetchFn: typeof fetch,
): Promise<JambonzVerb[] | null> {
  try {
    const res = await fetchFn(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [RELAYED_HEADER]: '1',
        ...(signature ? { 'jambonz-signature': signature } : {}),
      },
      body: raw,
      signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
    });
    if (!res.ok) return null;
    const verbs = (await res.json()) as unknown;
    return Array.isArray(verbs) ? (verbs as JambonzVerb[]) : null;
  } catch {
    return null;
  }
}
