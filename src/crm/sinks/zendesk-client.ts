import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Secret } from '../../config/secret.js';
import { requestJson } from '../http.js';
import { expectEcho } from '../match.js';

/**
 * The few Zendesk Support API calls the sink needs (FACTS §4), typed and thin. Every write's answer is checked
 * against the request (ticket id, external_id, file name) before it is believed: see expectEcho.
 */
export interface ZendeskUser {
  id: number;
  name: string;
  phone?: string | null;
  external_id?: string | null;
}
export interface ZendeskTicket {
  id: number;
  external_id?: string | null;
  /** ISO-8601, whole seconds */
  updated_at?: string;
}
export interface ZendeskComment {
  body?: string;
  html_body?: string;
  public: boolean;
  uploads?: string[];
}
export interface NewTicket {
  subject: string;
  comment: ZendeskComment;
  requester_id?: number;
  external_id: string;
  tags: string[];
  priority: string;
  custom_fields?: Array<{ id: number; value: string | number | boolean }>;
}
export interface TicketUpdate {
  comment: ZendeskComment;
  tags?: string[];
  additional_tags?: string[];
  priority?: string;
  custom_fields?: Array<{ id: number; value: string | number | boolean }>;
  /** with updated_stamp: Zendesk answers 409 UpdateConflict if the ticket changed since that stamp */
  safe_update?: boolean;
  updated_stamp?: string;
}

export interface ZendeskClientOptions {
  baseUrl: string;
  email: string;
  apiToken: Secret;
  timeoutMs: number;
}

/** `Basic base64(EMAIL/token:API_TOKEN)` (FACTS §4); the value goes in a header, never in a URL or a log line. */
export function zendeskAuthorization(email: string, apiToken: Secret): string {
  return `Basic ${Buffer.from(`${email}/token:${apiToken.reveal()}`).toString('base64')}`;
}

const CONTENT_TYPES: Record<string, string> = {
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.json': 'application/json',
  '.txt': 'text/plain',
};

export class ZendeskClient {
  readonly #opts: ZendeskClientOptions;
  constructor(opts: ZendeskClientOptions) {
    this.#opts = opts;
  }

  /** Where an agent opens the ticket. */
  ticketUrl(id: number | string): string {
    return new URL(`/agent/tickets/${id}`, this.#opts.baseUrl).toString();
  }

  #url(path: string, query?: Record<string, string>): string {
    const url = new URL(path, this.#opts.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    return url.toString();
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: zendeskAuthorization(this.#opts.email, this.#opts.apiToken), ...extra };
  }

  /** End users whose phone ends with these digits (Zendesk matches `phone:*DIGITS` against any stored format). */
  async searchUsersByPhone(digits: string, signal?: AbortSignal): Promise<ZendeskUser[]> {
    const res = await requestJson<{ users?: ZendeskUser[] }>({
      method: 'GET',
      url: this.#url('/api/v2/users/search.json', { query: `phone:*${digits}` }),
      headers: this.#headers(),
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    return res.body.users ?? [];
  }

  /** Matches only by email or external_id: idempotent for a stable external_id (200 existing, 201 created). */
  async createOrUpdateUser(
    user: { name: string; phone: string; external_id: string },
    signal?: AbortSignal,
  ): Promise<ZendeskUser> {
    const res = await requestJson<{ user: ZendeskUser }>({
      method: 'POST',
      url: this.#url('/api/v2/users/create_or_update.json'),
      headers: this.#headers(),
      json: { user: { ...user, role: 'end-user' } },
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    const made = res.body?.user;
    expectEcho(
      typeof made?.id === 'number' && made.external_id === user.external_id,
      `user create_or_update for external_id ${user.external_id} answered with user ${made?.id}`,
    );
    return made;
  }

  /** `idempotencyKey` makes a retried create return the first ticket instead of a second one (for 2 h). */
  async createTicket(
    ticket: NewTicket,
    idempotencyKey: string,
    signal?: AbortSignal,
  ): Promise<{ ticket: ZendeskTicket; lookup: string | null }> {
    const res = await requestJson<{ ticket: ZendeskTicket }>({
      method: 'POST',
      url: this.#url('/api/v2/tickets.json'),
      headers: this.#headers({ 'idempotency-key': idempotencyKey }),
      json: { ticket },
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    const made = res.body?.ticket;
    expectEcho(
      typeof made?.id === 'number' && made.external_id === ticket.external_id,
      `ticket create for external_id ${ticket.external_id} answered with ticket ${made?.id} (${made?.external_id})`,
    );
    return { ticket: made, lookup: res.headers.get('x-idempotency-lookup') };
  }

  async updateTicket(id: number, update: TicketUpdate, signal?: AbortSignal): Promise<ZendeskTicket> {
    const res = await requestJson<{ ticket: ZendeskTicket }>({
      method: 'PUT',
      url: this.#url(`/api/v2/tickets/${id}.json`),
      headers: this.#headers(),
      json: { ticket: update },
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    return this.#expectTicket(res.body?.ticket, id, 'update');
  }

  async getTicket(id: number, signal?: AbortSignal): Promise<ZendeskTicket> {
    const res = await requestJson<{ ticket: ZendeskTicket }>({
      method: 'GET',
      url: this.#url(`/api/v2/tickets/${id}.json`),
      headers: this.#headers(),
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    return this.#expectTicket(res.body?.ticket, id, 'show');
  }

  #expectTicket(ticket: ZendeskTicket | undefined, id: number, what: string): ZendeskTicket {
    expectEcho(ticket?.id === id, `ticket ${what} of ${id} answered with ticket ${ticket?.id}`);
    return ticket!;
  }

  /** Tickets we created carry external_id; this finds one after the idempotency key could have expired. */
  async findTicketsByExternalId(externalId: string, signal?: AbortSignal): Promise<ZendeskTicket[]> {
    const res = await requestJson<{ tickets?: ZendeskTicket[] }>({
      method: 'GET',
      url: this.#url('/api/v2/tickets.json', { external_id: externalId }),
      headers: this.#headers(),
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    return res.body.tickets ?? [];
  }

  async listComments(ticketId: number, signal?: AbortSignal): Promise<Array<{ id: number; body: string }>> {
    const res = await requestJson<{ comments?: Array<{ id: number; body: string }> }>({
      method: 'GET',
      url: this.#url(`/api/v2/tickets/${ticketId}/comments.json`),
      headers: this.#headers(),
      timeoutMs: this.#opts.timeoutMs,
      signal,
    });
    return res.body.comments ?? [];
  }

  /** Upload a file; the token attaches it to the next comment (single use, 60 min). */
  async uploadFile(path: string, signal?: AbortSignal): Promise<string> {
    const bytes = await readFile(path, { signal });
    const filename = basename(path);
    const res = await requestJson<{ upload?: { token?: string; attachment?: { file_name?: string } } }>({
      method: 'POST',
      url: this.#url('/api/v2/uploads.json', { filename }),
      headers: this.#headers({
        'content-type': CONTENT_TYPES[extname(filename).toLowerCase()] ?? 'application/octet-stream',
      }),
      body: bytes,
      timeoutMs: Math.max(this.#opts.timeoutMs, 30_000),
      signal,
    });
    const upload = res.body?.upload;
    expectEcho(
      typeof upload?.token === 'string' && upload.attachment?.file_name === filename,
      `upload of ${filename} answered with ${upload?.attachment?.file_name}`,
    );
    return upload!.token!;
  }
}
