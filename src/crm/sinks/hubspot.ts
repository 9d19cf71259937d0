import { basename } from 'node:path';
import type { CallRecord } from '../../core/call-record.js';
import type { HubspotSinkConfig } from '../config.js';
import { humanIntent, noteBody } from '../format.js';
import { e164, phoneDigits, phoneForms } from '../phone.js';
import type { DeliveryContext, DeliveryJob, DeliveryResult, TicketSink } from '../sink.js';
import { ASSOC_CALL_TO_CONTACT, ASSOC_NOTE_TO_CONTACT, HubspotClient, associationTo } from './hubspot-client.js';

const NOTE_MAX = 65_536;
const RECENT_TTL_MS = 10 * 60_000;
const RECENT_MAX = 1000;

/**
 * HubSpot: the caller's contact (found by phone, created if configured), one call engagement per call
 * (created at the first delivery, updated at the end) and a note per delivery, all associated to the contact.
 * HubSpot has no idempotency keys: each step's result id is stored before the next step, so a retry
 * repeats at most the one step that was in flight.
 */
export class HubspotSink implements TicketSink {
  readonly type = 'hubspot';
  readonly #client: HubspotClient;
  /**
   * Contacts this process found or created lately, by phone digits. HubSpot search lags fresh writes by
   * seconds, so two calls from a new number in quick succession would otherwise create two contacts.
   */
  readonly #recent = new Map<string, { id: string; at: number }>();
  readonly #lookups = new Map<string, Promise<string | undefined>>();
  constructor(
    readonly name: string,
    readonly config: HubspotSinkConfig,
  ) {
    this.#client = new HubspotClient(config);
  }

  async deliver(job: DeliveryJob, ctx: DeliveryContext): Promise<DeliveryResult> {
    const { record } = job;
    const contactId = await this.#contact(record, ctx);
    const assoc = (typeId: number) => (contactId ? [associationTo(contactId, typeId)] : []);

    let callId = await ctx.state.get<string>('callObjectId');
    let created = false;
    const props = this.#callProperties(record, job.event);
    if (callId === undefined) {
      const call = await this.#client.createObject('calls', props, assoc(ASSOC_CALL_TO_CONTACT), ctx.signal);
      callId = call.id;
      created = true;
      await ctx.state.set('callObjectId', callId);
    } else if ((await ctx.state.get(`call-${job.event}`)) === undefined) {
      await this.#client.updateObject('calls', callId, props, ctx.signal);
    }
    await ctx.state.set(`call-${job.event}`, true);

    const noteKey = `note-${job.event}`;
    if ((await ctx.state.get(noteKey)) === undefined) {
      const note = await this.#client.createObject(
        'notes',
        { hs_timestamp: new Date().toISOString(), hs_note_body: noteBody(record, job.event).slice(0, NOTE_MAX) },
        assoc(ASSOC_NOTE_TO_CONTACT),
        ctx.signal,
      );
      await ctx.state.set(noteKey, note.id);
    }
    return {
      ...(created ? { ticketId: callId } : {}),
      detail: `call ${callId}${contactId ? ` on contact ${contactId}` : ' (no contact)'}`,
    };
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
    if (recent && Date.now() - recent.at < RECENT_TTL_MS) return recent.id;
    const found = await this.#client.findContactsByPhone(phoneForms(record.phone), ctx.signal);
    let id = found.map((c) => c.id).sort((a, b) => Number(a) - Number(b))[0];
    if (id === undefined) {
      if (!this.config.createContacts) return undefined;
      const phone = e164(record.phone) ?? record.phone;
      const contact = await this.#client.createObject(
        'contacts',
        { phone, firstname: 'Caller', lastname: phone },
        [],
        ctx.signal,
      );
      id = contact.id;
      ctx.logger.info({ contactId: id }, 'hubspot: contact created');
    }
    this.#remember(digits, id);
    return id;
  }

  #remember(digits: string, id: string): void {
    this.#recent.delete(digits);
    this.#recent.set(digits, { id, at: Date.now() });
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
