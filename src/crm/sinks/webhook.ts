import type { WebhookSinkConfig } from '../config.js';
import { requestJson } from '../http.js';
import { signBody, SIGNATURE_HEADER } from '../signature.js';
import type { DeliveryContext, DeliveryJob, DeliveryResult, TicketSink } from '../sink.js';

/**
 * Generic webhook: POSTs the CallRecord JSON, signed. X-Voicebot-Delivery is stable across retries
 * so a receiver can drop repeats; the signature timestamp is the attempt's, so late retries still verify.
 */
export class WebhookSink implements TicketSink {
  readonly type = 'webhook';
  constructor(
    readonly name: string,
    readonly config: WebhookSinkConfig,
  ) {}

  async deliver(job: DeliveryJob, ctx: DeliveryContext): Promise<DeliveryResult> {
    const body = JSON.stringify(job.record);
    const res = await requestJson<unknown>({
      method: 'POST',
      url: this.config.url,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signBody(this.config.secret.reveal(), body),
        'x-voicebot-event': job.event,
        'x-voicebot-delivery': job.id,
        'x-voicebot-attempt': String(ctx.attempt),
      },
      body: Buffer.from(body),
      timeoutMs: this.config.timeoutMs,
      signal: ctx.signal,
      response: 'ignore',
    });
    return { detail: `webhook answered ${res.status}` };
  }
}
