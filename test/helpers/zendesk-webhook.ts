import { zendeskSignature } from '../../src/web/webhooks/zendesk-signature.js';

/** POST a Zendesk webhook to a bot at `base`, signed as Zendesk signs it (timestamp + raw body). */
export function postZendeskWebhook(
  base: string,
  secret: string,
  body: string,
  opts: { ts?: string; invocation?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  const ts = opts.ts ?? new Date().toISOString();
  return fetch(`${base}/api/webhooks/zendesk`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-zendesk-webhook-signature-timestamp': ts,
      'x-zendesk-webhook-signature': zendeskSignature(secret, ts, body),
      ...(opts.invocation ? { 'x-zendesk-webhook-invocation-id': opts.invocation } : {}),
    },
    body,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}
