import type { Secret } from '../../config/secret.js';
import { DeliveryError } from '../errors.js';
import { requestJson } from '../http.js';
import { expectEcho } from '../match.js';

/** The HubSpot CRM calls the sink needs (FACTS §5), over fetch with a Bearer token. */
export const ASSOC_CALL_TO_CONTACT = 194;
export const ASSOC_NOTE_TO_CONTACT = 202;

export type HubspotType = 'contacts' | 'calls' | 'notes';
export interface HubspotObject {
  id: string;
  properties: Record<string, string | null>;
}

export interface HubspotClientOptions {
  baseUrl: string;
  accessToken: Secret;
  timeoutMs: number;
}

export class HubspotClient {
  readonly #opts: HubspotClientOptions;
  constructor(opts: HubspotClientOptions) {
    this.#opts = opts;
  }

  async #call<T>(method: 'GET' | 'POST' | 'PUT', path: string, json: unknown, signal?: AbortSignal): Promise<T> {
    const res = await requestJson<T>({
      method,
      url: new URL(path, this.#opts.baseUrl).toString(),
      headers: { authorization: `Bearer ${this.#opts.accessToken.reveal()}` },
      json,
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    return res.body;
  }

  /** One search, one filter group per form (groups are ORed; HubSpot allows 5). EQ compares the stored string. */
  async findContactsByPhone(forms: string[], signal?: AbortSignal): Promise<HubspotObject[]> {
    const filterGroups = forms
      .slice(0, 5)
      .map((value) => ({ filters: [{ propertyName: 'phone', operator: 'EQ', value }] }));
    const res = await this.#call<{ results?: HubspotObject[] }>(
      'POST',
      '/crm/v3/objects/contacts/search',
      { filterGroups, properties: ['phone', 'firstname', 'lastname'], limit: 10 },
      signal,
    );
    return res.results ?? [];
  }

  /**
   * Make sure `name` exists on `type` as a unique-value property (what upsert-by-property needs). Creating it needs
   * the schema write scope; a property of that name without unique values is a setup error a retry cannot fix.
   */
  async ensureUniqueProperty(type: HubspotType, name: string, label: string, signal?: AbortSignal): Promise<void> {
    let existing: { hasUniqueValue?: boolean } | undefined;
    try {
      existing = await this.#call('GET', `/crm/v3/properties/${type}/${name}`, undefined, signal);
    } catch (err) {
      if (!(err instanceof DeliveryError && err.status === 404)) throw err;
    }
    if (existing === undefined) {
      const spec = { name, label, type: 'string', fieldType: 'text', hasUniqueValue: true };
      const groupName =
        type === 'contacts' ? 'contactinformation' : type === 'calls' ? 'callinformation' : 'noteinformation';
      try {
        await this.#call('POST', `/crm/v3/properties/${type}`, { ...spec, groupName }, signal);
      } catch (err) {
        if (!(err instanceof DeliveryError && err.status === 409)) throw err; // created meanwhile: fine
      }
      return;
    }
    if (existing.hasUniqueValue !== true) {
      throw new DeliveryError(
        `hubspot property ${type}.${name} exists without "unique values"; delete it (the bot recreates it) or rename it`,
        false,
      );
    }
  }

  /**
   * Create or update the one object whose unique property `idProperty` is `key`: a retry after a timeout or a
   * crash updates the object the first try made instead of making a second one.
   */
  async upsert(
    type: HubspotType,
    idProperty: string,
    key: string,
    properties: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HubspotObject & { new?: boolean }> {
    const res = await this.#call<{ results?: Array<HubspotObject & { new?: boolean }> }>(
      'POST',
      `/crm/v3/objects/${type}/batch/upsert`,
      { inputs: [{ idProperty, id: key, properties }] },
      signal,
    );
    const results = res?.results ?? [];
    const made = results[0];
    expectEcho(
      results.length === 1 && typeof made?.id === 'string' && made.properties?.[idProperty] === key,
      `${type} upsert of ${idProperty}=${key} answered with ${results.length} result(s), first ${made?.id}`,
    );
    return made!;
  }

  /** Labelled association (v4 PUT): idempotent, so it is simply repeated on retries. */
  async associate(
    type: 'calls' | 'notes',
    id: string,
    contactId: string,
    typeId: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const res = await this.#call<{ fromObjectId?: number | string; toObjectId?: number | string }>(
      'PUT',
      `/crm/v4/objects/${type}/${encodeURIComponent(id)}/associations/contacts/${encodeURIComponent(contactId)}`,
      [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }],
      signal,
    );
    expectEcho(
      String(res?.fromObjectId) === id && String(res?.toObjectId) === contactId,
      `association of ${type} ${id} to contact ${contactId} answered with ${res?.fromObjectId}→${res?.toObjectId}`,
    );
  }
}
