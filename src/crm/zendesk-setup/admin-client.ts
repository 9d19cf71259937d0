import type { Secret } from '../../config/secret.js';
import { requestJson } from '../http.js';
import { zendeskAuthorization } from '../sinks/zendesk-client.js';

export interface AdminClientOptions {
  baseUrl: string;
  email: string;
  apiToken: Secret;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A page of a Zendesk list: cursor (`meta.has_more`, `links.next`) or offset (`next_page`) pagination. */
interface ListPage {
  meta?: { has_more?: boolean };
  links?: { next?: string | null };
  next_page?: string | null;
  [key: string]: unknown;
}

/** Lists longer than this many pages are refused rather than walked forever (100 per page: 50,000 records). */
const MAX_PAGES = 500;

/**
 * The Zendesk admin API calls `voicebot zendesk setup` makes: list (every page), create, update, and the webhook's
 * signing secret. Thin over requestJson: bounded, never logs, and errors name the path only (never the token).
 */
export class ZendeskAdminClient {
  readonly #opts: AdminClientOptions;
  readonly #origin: string;
  constructor(opts: AdminClientOptions) {
    this.#opts = opts;
    this.#origin = new URL(opts.baseUrl).origin;
  }

  #request<T>(method: 'GET' | 'POST' | 'PUT', url: string, json?: unknown) {
    return requestJson<T>({
      method,
      url,
      headers: { authorization: zendeskAuthorization(this.#opts.email, this.#opts.apiToken) },
      ...(json !== undefined ? { json } : {}),
      timeoutMs: this.#opts.timeoutMs,
      signal: this.#opts.signal,
    });
  }

  /** Every record of a list, following cursor pages (100 at a time). */
  async list<T>(path: string, key: string): Promise<T[]> {
    const out: T[] = [];
    let url: string | null = new URL(`${path}?page[size]=100`, this.#opts.baseUrl).toString();
    for (let pages = 0; url !== null; pages++) {
      if (pages >= MAX_PAGES) throw new Error(`${path}: more than ${MAX_PAGES} pages`);
      // The credentials go only to the account we were given: a "next" link elsewhere is not followed.
      if (new URL(url).origin !== this.#origin) throw new Error(`${path}: next page is on another host`);
      const { body }: { body: ListPage } = await this.#request<ListPage>('GET', url);
      const items = body?.[key];
      if (!Array.isArray(items)) throw new Error(`${path}: the answer has no "${key}" list`);
      out.push(...(items as T[]));
      const next: string | null | undefined = body.meta
        ? body.meta.has_more
          ? body.links?.next
          : null
        : body.next_page;
      url = next ?? null;
    }
    return out;
  }

  async create<T>(path: string, key: string, record: unknown): Promise<T> {
    const { body } = await this.#request<Record<string, T>>('POST', new URL(path, this.#opts.baseUrl).toString(), {
      [key]: record,
    });
    const made = body?.[key];
    if (!made) throw new Error(`POST ${path}: the answer has no "${key}"`);
    return made;
  }

  /** PUT; webhooks answer 204 without a body. */
  async update(path: string, key: string, record: unknown): Promise<void> {
    await this.#request('PUT', new URL(path, this.#opts.baseUrl).toString(), { [key]: record });
  }

  /** The secret Zendesk signs this webhook's requests with (Zendesk makes it; it cannot be chosen). */
  async signingSecret(webhookId: string): Promise<string> {
    const path = `/api/v2/webhooks/${encodeURIComponent(webhookId)}/signing_secret`;
    const { body } = await this.#request<{ signing_secret?: { secret?: string } }>(
      'GET',
      new URL(path, this.#opts.baseUrl).toString(),
    );
    const secret = body?.signing_secret?.secret;
    if (typeof secret !== 'string' || secret === '') throw new Error(`GET ${path}: no signing secret in the answer`);
    return secret;
  }
}
