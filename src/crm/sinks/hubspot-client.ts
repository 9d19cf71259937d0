import type { Secret } from '../../config/secret.js';
import { requestJson } from '../http.js';

/** The HubSpot CRM v3 calls the sink needs (FACTS §5), over fetch with a Bearer token. */
export const ASSOC_CALL_TO_CONTACT = 194;
export const ASSOC_NOTE_TO_CONTACT = 202;

export interface HubspotObject {
  id: string;
  properties: Record<string, string | null>;
}
type Association = {
  to: { id: string };
  types: Array<{ associationCategory: 'HUBSPOT_DEFINED'; associationTypeId: number }>;
};

export interface HubspotClientOptions {
  baseUrl: string;
  accessToken: Secret;
  timeoutMs: number;
}

export const associationTo = (id: string, typeId: number): Association => ({
  to: { id },
  types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }],
});

export class HubspotClient {
  readonly #opts: HubspotClientOptions;
  constructor(opts: HubspotClientOptions) {
    this.#opts = opts;
  }

  async #call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, json: unknown, signal?: AbortSignal): Promise<T> {
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

  createObject(
    type: 'contacts' | 'calls' | 'notes',
    properties: Record<string, string>,
    associations: Association[],
    signal?: AbortSignal,
  ): Promise<HubspotObject> {
    return this.#call<HubspotObject>('POST', `/crm/v3/objects/${type}`, { properties, associations }, signal);
  }

  updateObject(
    type: 'calls',
    id: string,
    properties: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HubspotObject> {
    return this.#call<HubspotObject>(
      'PATCH',
      `/crm/v3/objects/${type}/${encodeURIComponent(id)}`,
      { properties },
      signal,
    );
  }
}
