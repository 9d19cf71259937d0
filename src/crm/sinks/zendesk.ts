import { access, readFile } from 'node:fs/promises';
import { systemClock, type Clock } from '../../core/clock.js';
import { basename } from 'node:path';
import { readWav } from '../../media/wav.js';
import type { CallRecord } from '../../core/call-record.js';
import type { ZendeskSinkConfig } from '../config.js';
import { recordField, stepMarker, ticketSubject } from '../format.js';
import { LOW_ASR_CONFIDENCE, noteHtml, recordingHtml, type RecordingInfo } from '../format-html.js';
import { pickExact } from '../match.js';
import { e164, phoneDigits, samePhone } from '../phone.js';
import type { DeliveryContext, DeliveryJob, DeliveryResult, TicketSink } from '../sink.js';
import { ZendeskClient, type NewTicket } from './zendesk-client.js';

const PRIORITY_ORDER = ['low', 'normal', 'high', 'urgent'] as const;
type Priority = (typeof PRIORITY_ORDER)[number];
const UPSET = /angry|anger|upset|frustrat|sentiment|complain/i;

/** State keys (per call) that make every step safe to repeat. */
const K = {
  requester: 'requesterId',
  ticket: 'ticketId',
  createTried: 'createTriedAt',
  commented: (event: string) => `commented-${event}`,
} as const;

/**
 * Zendesk: one ticket per call. The first delivery (escalation, or end when there was none) creates it with an
 * Idempotency-Key and external_id; later deliveries append private comments to the same ticket.
 */
export class ZendeskSink implements TicketSink {
  readonly type = 'zendesk';
  readonly #client: ZendeskClient;
  readonly #clock: Clock;
  constructor(
    readonly name: string,
    readonly config: ZendeskSinkConfig,
    clock: Clock = systemClock,
  ) {
    this.#client = new ZendeskClient(config);
    this.#clock = clock;
  }

  async deliver(job: DeliveryJob, ctx: DeliveryContext): Promise<DeliveryResult> {
    const { record } = job;
    let ticketId = await ctx.state.get<number>(K.ticket);
    let created = false;
    if (ticketId === undefined) {
      ticketId = await this.#createTicket(job, ctx);
      created = true;
    } else if (job.event === 'escalation') {
      // A retry of a create that landed before the crash: nothing left to do.
      return { ticketId: String(ticketId), url: this.#client.ticketUrl(ticketId), detail: 'ticket already created' };
    }
    const needsComment = !created || record.recording !== undefined;
    if (needsComment) await this.#appendComment(ticketId, job, ctx, created);
    return {
      ...(created ? { ticketId: String(ticketId), url: this.#client.ticketUrl(ticketId) } : {}),
      detail: created ? `ticket ${ticketId} created` : `ticket ${ticketId} updated`,
    };
  }

  async #createTicket(job: DeliveryJob, ctx: DeliveryContext): Promise<number> {
    const { record } = job;
    const externalId = `voicebot-${record.callId}`;
    // A previous attempt may have reached Zendesk (timeout, crash, or a key past its 2 h expiry): look first.
    if ((await ctx.state.get(K.createTried)) !== undefined) {
      const listed = await this.#client.findTicketsByExternalId(externalId, ctx.signal);
      const found = pickExact(listed, (t) => t.external_id === externalId, { vendor: 'zendesk', noun: 'tickets' }, ctx);
      if (found) {
        await ctx.state.set(K.ticket, found.id);
        ctx.logger.info({ ticketId: found.id }, 'zendesk: adopted ticket created by an earlier attempt');
        return found.id;
      }
    } else {
      await ctx.state.set(K.createTried, this.#clock.now());
    }
    const requesterId = await this.#requester(record, ctx);
    const ticket: NewTicket = {
      subject: ticketSubject(record),
      // no recording on the first comment: it is attached by the next one (see deliver)
      comment: { html_body: noteHtml(record, job.event), public: false },
      external_id: externalId,
      tags: ticketTags(record, job.event),
      priority: this.#priority(record),
      ...(requesterId !== undefined ? { requester_id: requesterId } : {}),
    };
    const fields = this.#customFields(record);
    if (fields.length > 0) ticket.custom_fields = fields;
    // Same call + same step → same key; the body is built only from the stored job, so a retry matches it.
    const key = `${job.group}-${job.event}-create`;
    const { ticket: made, lookup } = await this.#client.createTicket(ticket, key, ctx.signal);
    await ctx.state.set(K.ticket, made.id);
    ctx.logger.info({ ticketId: made.id, idempotency: lookup }, 'zendesk: ticket created');
    return made.id;
  }

  async #appendComment(ticketId: number, job: DeliveryJob, ctx: DeliveryContext, justCreated: boolean): Promise<void> {
    const { record } = job;
    const step = justCreated ? 'recording' : job.event;
    if ((await ctx.state.get(K.commented(step))) !== undefined) return;
    const marker = justCreated ? `${stepMarker(record, job.event)}/recording` : stepMarker(record, job.event);
    // Comments have no idempotency key. An earlier attempt's PUT may have landed, or may still be in flight
    // (timeout): read the ticket's stamp first, then look for our marker, then update with safe_update on that
    // stamp, so a late duplicate (or this one) is refused with 409 instead of adding the comment twice.
    const { updated_at: stamp } = await this.#client.getTicket(ticketId, ctx.signal);
    if (ctx.attempt > 1) {
      const comments = await this.#client.listComments(ticketId, ctx.signal);
      if (comments.some((c) => c.body.includes(marker))) {
        await ctx.state.set(K.commented(step), true);
        return;
      }
    }
    const recording = await this.#recording(record, ctx);
    const uploads = recording ? [await this.#client.uploadFile(record.recording!.path, ctx.signal)] : [];
    const html = justCreated && recording ? recordingHtml(marker, recording) : noteHtml(record, job.event, recording);
    const fields = this.#customFields(record);
    await this.#client.updateTicket(
      ticketId,
      {
        comment: { html_body: html, public: false, ...(uploads.length > 0 ? { uploads } : {}) },
        additional_tags: ticketTags(record, job.event),
        ...(fields.length > 0 ? { custom_fields: fields } : {}),
        priority: this.#priority(record),
        ...(stamp ? { safe_update: true, updated_stamp: stamp } : {}),
      },
      ctx.signal,
    );
    await ctx.state.set(K.commented(step), true);
  }

  /** The recording to attach (name and length), or undefined when there is none or its file is gone. */
  async #recording(record: CallRecord, ctx: DeliveryContext): Promise<RecordingInfo | undefined> {
    const path = record.recording?.path;
    if (!path) return undefined;
    try {
      await access(path);
    } catch {
      ctx.logger.warn({ path }, 'zendesk: recording file missing, ticket updated without it');
      return undefined;
    }
    const info: RecordingInfo = { name: basename(path) };
    try {
      const wav = readWav(await readFile(path, { signal: ctx.signal }));
      info.durationMs = Math.round((wav.samples.length / wav.channels / wav.sampleRate) * 1000);
    } catch {
      // not a WAV we can read: attached without its length
    }
    return info;
  }

  /** Find the caller by phone, else create a phone-only end user with a stable external_id (safe to repeat). */
  async #requester(record: CallRecord, ctx: DeliveryContext): Promise<number | undefined> {
    const cached = await ctx.state.get<number>(K.requester);
    if (cached !== undefined) return cached;
    const digits = phoneDigits(record.phone);
    const plus = e164(record.phone);
    if (!plus) return undefined; // anonymous caller: Zendesk makes the API user the requester
    const tail = digits.length > 10 ? digits.slice(-10) : digits;
    const users = await this.#client.searchUsersByPhone(tail, ctx.signal);
    const match = pickExact(users, (u) => samePhone(u.phone ?? '', plus), { vendor: 'zendesk', noun: 'users' }, ctx);
    let id = match?.id;
    if (id === undefined) {
      if (!this.config.createRequesters) return undefined;
      const user = await this.#client.createOrUpdateUser(
        { name: `Caller ${plus}`, phone: plus, external_id: `voicebot-phone-${digits}` },
        ctx.signal,
      );
      id = user.id;
    }
    await ctx.state.set(K.requester, id);
    return id;
  }

  #priority(record: CallRecord): Priority {
    const byIntent = (record.intent && this.config.priorityByIntent[record.intent]) || this.config.defaultPriority;
    const upset = record.escalation !== undefined && UPSET.test(record.escalation.reason);
    if (!upset) return byIntent;
    const rank = (p: Priority) => PRIORITY_ORDER.indexOf(p);
    return rank(this.config.upsetPriority) > rank(byIntent) ? this.config.upsetPriority : byIntent;
  }

  #customFields(record: CallRecord): NonNullable<NewTicket['custom_fields']> {
    const out: NonNullable<NewTicket['custom_fields']> = [];
    for (const [field, id] of Object.entries(this.config.customFields)) {
      const value = recordField(record, field);
      if (value !== null) out.push({ id, value });
    }
    return out;
  }
}

/** Tag a call needs a person to check: nothing understood, or the bot or the recogniser unsure. */
export const LOW_CONFIDENCE_TAG = 'voicebot_low_confidence';

/**
 * Tags views and triggers key on: `voicebot`, the main intent (an intent named `callback` tags `callback`), the
 * escalation, the outcome once the call ended, and LOW_CONFIDENCE_TAG.
 */
export function ticketTags(record: CallRecord, event: DeliveryJob['event']): string[] {
  const tags = ['voicebot'];
  if (record.intent) tags.push(record.intent);
  if (record.escalation) tags.push('escalated');
  if (event === 'end') tags.push(`outcome_${record.outcome.replace(/-/g, '_')}`);
  const unsure = (v: number | null) => v !== null && v < LOW_ASR_CONFIDENCE;
  if (record.intent === null || unsure(record.nluConfidence) || unsure(record.asrConfidence))
    tags.push(LOW_CONFIDENCE_TAG);
  return tags;
}
