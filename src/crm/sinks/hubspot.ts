import { basename } from 'node:path';
import { systemClock, type Clock } from '../../core/clock.js';
import type { CallRecord } from '../../core/call-record.js';
import type { HubspotSinkConfig } from '../config.js';
import { humanIntent, noteBody } from '../format.js';
import { pickExact } from '../match.js';
import { e164, phoneDigits, phoneForms, samePhone } from '../phone.js';
import type { DeliveryContext, DeliveryJob, DeliveryResult, TicketSink } from '../sink.js';
import { ASSOC_CALL_TO_CONTACT, ASSOC_NOTE_TO_CONTACT, HubspotClient } from './hubspot-client.js';

const NOTE_MAX = 65_536;
const RECENT_TTL_MS = 10 * 60_000;
const RECENT_MAX = 1000;
/** Unique-value properties the bot writes by (created on first use): one call per call, one note per step. */
export const KEY_PROPERTY = 'voicebot_key';
/** Unique-value property on the contacts the bot creates (E.164), so a retried create finds the first one. */
export const PHONE_KEY_PROPERTY = 'voicebot_phone';

/**
 * HubSpot: the caller's contact (found by phone, created if configured), one call engagement per call and one note
 * per delivery, all associated to the contact. HubSpot has no idempotency keys, and search lags writes by seconds,
 * so every write is an upsert by a unique-value property: repeating any step after a timeout or a kill -9 updates
 * what the first try made instead of making a second one.
 */
export class HubspotSink implements TicketSink {
  readonly type = 'hubspot';
  readonly #client: HubspotClient;
  #schema: Promise<void> | undefined;
  /**
   * Contacts this process found or created lately, by phone digits. HubSpot search lags fresh writes by
   * seconds, so two calls from a new number in quick succession would otherwise create two contacts.
   */
  readonly #recent = new Map<string, { id: string; at: number }>();
  readonly #lookups = new Map<string, Promise<string | undefined>>();
  readonly #clock: Clock;
  constructor(
    readonly name: string,
    readonly config: HubspotSinkConfig,
    clock: Clock = systemClock,
  ) {
    this.#client = new HubspotClient(config);
    this.#clock = clock;
  }

  async deliver(job: DeliveryJob, ctx: DeliveryContext): Promise<DeliveryResult> {
    const { record } = job;
    await this.#ensureSchema(ctx.signal);
    const contactId = await this.#contact(record, ctx);
    const key = `voicebot-${record.callId}`;

    const call = await this.#client.upsert(
      'calls',
      KEY_PROPERTY,
      key,
      this.#callProperties(record, job.event),
      ctx.signal,
    );
    if (contactId) await this.#client.associate('calls', call.id, contactId, ASSOC_CALL_TO_CONTACT, ctx.signal);
    const note = await this.#client.upsert(
      'notes',
      KEY_PROPERTY,
      `${key}/${job.event}`,
      // the moment of the step, not of the attempt: a retry writes the same note
      { hs_timestamp: job.enqueuedAt, hs_note_body: noteBody(record, job.event).slice(0, NOTE_MAX) },
      ctx.signal,
    );
    if (contactId) await this.#client.associate('notes', note.id, contactId, ASSOC_NOTE_TO_CONTACT, ctx.signal);

    // The first delivery that got the call object through announces it (once, across restarts).
    const announced = (await ctx.state.get<string>('callObjectId')) !== undefined;
    if (!announced) await ctx.state.set('callObjectId', call.id);
    return {
      ...(announced ? {} : { ticketId: call.id }),
      detail: `call ${call.id}${contactId ? ` on contact ${contactId}` : ' (no contact)'}`,
    };
  }

  #ensureSchema(signal: AbortSignal): Promise<void> {
    this.#schema ??= (async () => {
      await this.#client.ensureUniqueProperty('calls', KEY_PROPERTY, 'Voicebot key', signal);
      await this.#client.ensureUniqueProperty('notes', KEY_PROPERTY, 'Voicebot key', signal);
      if (this.config.createContacts) {
        await this.#client.ensureUniqueProperty('contacts', PHONE_KEY_PROPERTY, 'Voicebot phone', signal);
      }
    })();
    // a failed check is tried again by the next delivery
    this.#schema.catch(() => (this.#schema = undefined));
    return this.#schema;
  }

  async #contact(record: CallRecord, ctx: DeliveryContext): Promise<string | undefined> {
    const cached = await ctx.state.get<string>('contactId');
    if (cached !== undefined) return cached;
    const digits = phoneDigits(record.phone);
    if (phoneForms(record.phone).length === 0) return undefined;
    // One lookup per number at a time: concurrent calls from a new number must not each create a contact.
    let lookup = this.#lookups.get(digits);
    if (!lookup) {
      lookup = this.#findOrCreate(record, digits, ctx).finally(() => this.#lookups.delete(digits));
      this.#lookups.set(digits, lookup);
    }
    const id = await lookup;
    if (id !== undefined) await ctx.state.set('contactId', id);
    return id;
  }

  async #findOrCreate(record: CallRecord, digits: string, ctx: DeliveryContext): Promise<string | undefined> {
    const recent = this.#recent.get(digits);
    if (recent && this.#clock.now() - recent.at < RECENT_TTL_MS) return recent.id;
    const found = await this.#client.findContactsByPhone(phoneForms(record.phone), ctx.signal);
    const match = pickExact(
      found,
      (c) => samePhone(c.properties.phone ?? '', record.phone),
      { vendor: 'hubspot', noun: 'contacts' },
      ctx,
    );
    let id = match?.id;
    if (id === undefined) {
      if (!this.config.createContacts) return undefined;
      const phone = e164(record.phone) ?? record.phone;
      // by unique property: a contact made by a try that timed out (and not yet searchable) is reused
      const contact = await this.#client.upsert(
        'contacts',
        PHONE_KEY_PROPERTY,
        phone,
        { phone, firstname: 'Caller', lastname: phone },
        ctx.signal,
      );
      id = contact.id;
      ctx.logger.info({ contactId: id, new: contact.new }, 'hubspot: contact created');
    }
    this.#remember(digits, id);
    return id;
  }

  #remember(digits: string, id: string): void {
    this.#recent.delete(digits);
    this.#recent.set(digits, { id, at: this.#clock.now() });
    if (this.#recent.size > RECENT_MAX) this.#recent.delete(this.#recent.keys().next().value!);
  }

  #callProperties(record: CallRecord, event: DeliveryJob['event']): Record<string, string> {
    const props: Record<string, string> = {
      hs_timestamp: record.startedAt,
      hs_call_title: `Voicebot: ${humanIntent(record.intent)}`,
      hs_call_body: noteBody(record, event).slice(0, NOTE_MAX),
      hs_call_direction: record.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
      hs_call_duration: String(record.durationMs),
      hs_call_from_number: record.direction === 'inbound' ? record.phone : record.calledNumber,
      hs_call_to_number: record.direction === 'inbound' ? record.calledNumber : record.phone,
      hs_call_status: callStatus(record, event),
    };
    const base = this.config.recordingBaseUrl;
    if (base && record.recording && event === 'end') {
      props.hs_call_recording_url = new URL(
        basename(record.recording.path),
        base.endsWith('/') ? base : `${base}/`,
      ).toString();
    }
    return props;
  }
}

function callStatus(record: CallRecord, event: DeliveryJob['event']): string {
  if (event === 'escalation') return 'IN_PROGRESS';
  if (record.outcome === 'error' || record.outcome === 'transfer-failed') return 'FAILED';
  if (record.outcome === 'abandoned') return 'CANCELED';
  return 'COMPLETED';
}
