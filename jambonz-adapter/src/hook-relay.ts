import { SIGNATURE_HEADER } from './signature.js';
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
 * A webhook as it arrived, to pass on as it is. `via` is only the hook URL's hint: jambonz's signature covers the body
 * and its timestamp, not the URL, so anyone holding one signed hook can send it again with any `via` (see
 * `JambonzBackend.#relay`: the target comes from the session store, and `via` must name that same instance).
 */
export interface ArrivedHook {
  via: string | undefined;
  raw: Buffer;
  signature: string | undefined;
}

/**
 * With webhooks every hook reaches jambonz's balancer, which may hand it to any instance; only the instance serving
 * the call can answer it (the verbs the bot queued, its transfer, a new listen to itself when its listen socket
 * dropped). The instance that got it passes it on, byte for byte with jambonz's signature, to the hook's URL on the
 * instance serving the call and returns that one's verbs. null: that instance did not answer (dead, or no verbs).
 */
export async function relayHook(url: string, hook: ArrivedHook, fetchFn: typeof fetch): Promise<JambonzVerb[] | null> {
  const { raw, signature } = hook;
  try {
    const res = await fetchFn(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [RELAYED_HEADER]: '1',
        ...(signature ? { [SIGNATURE_HEADER]: signature } : {}),
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
