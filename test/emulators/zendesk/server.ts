import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delay, mulberry32, readBody, sendJson } from '../http-util.js';
import { createAdminApi, type AdminApi } from './admin.js';

/**
 * Zendesk Support API emulator (FACTS §4) on a real socket, with fault injection.
 * Covers: basic token auth, users search/create/create_or_update, tickets create (Idempotency-Key) / update /
 * show / list by external_id, comments, uploads with tokens attached on a comment, 422 validation, 429 + Retry-After;
 * and the admin side (ticket fields, views, triggers, webhooks, triggers firing webhooks): see admin.ts.
 */
/**
 * 'foreign': the request is processed, but the answer carries another record of the same kind (a misrouting
 * proxy or cache). Clients must check what they got back against what they asked for.
 */
export type Fault = 400 | 422 | 429 | 500 | 502 | 503 | 'timeout' | 'foreign';

export interface ZendeskFaults {
  /** probability that a request gets a fault (0..1) */
  rate: number;
  /** relative weights of each fault kind */
  mix: Partial<Record<`${Fault}`, number>>;
  /** Retry-After seconds sent with 429 */
  retryAfterSec: number;
  /** 'timeout': the request is processed, but only after this delay (the client has given up by then) */
  slowMs: number;
  /** added to every response */
  latencyMs: number;
  /** faults to serve next, in order, before the random ones */
  next: Fault[];
  /** which paths faults apply to (default: all API paths) */
  only?: RegExp;
  /** which methods faults apply to (default: all) */
  methods?: string[];
}

export interface EmulatorOptions {
  email?: string;
  token?: string;
  seed?: number;
  faults?: Partial<ZendeskFaults>;
  /** idempotency key lifetime (Zendesk: 2 h) */
  idempotencyTtlMs?: number;
  /**
   * What a duplicate gets while the first request with the key is still running (undocumented upstream):
   * 'conflict' → 409 (our choice, like other idempotency-key APIs), 'create' → processed again (worst case).
   */
  concurrentDuplicate?: 'conflict' | 'create';
  /**
   * Lookups answer with unrelated records first, then the real matches: `GET /tickets.json?external_id=` lists the
   * account's oldest other tickets, user searches add users with other phones (FACTS §4: misbehaving servers and proxies).
   */
  unrelatedResults?: boolean;
  /** largest page a list answers (Zendesk: 100); smaller values make clients walk several pages */
  maxPageSize?: number;
}

export interface EmuUser {
  id: number;
  name: string;
  phone: string | null;
  email: string | null;
  external_id: string | null;
  role: string;
}
export interface EmuComment {
  id: number;
  /** plain text (Zendesk derives it from html_body when a comment is sent as HTML) */
  body: string;
  html_body: string;
  public: boolean;
  attachments: Array<{ file_name: string; content_type: string; size: number }>;
}
export interface EmuTicket {
  id: number;
  subject: string;
  requester_id: number | null;
  external_id: string | null;
  tags: string[];
  priority: string | null;
  status: string;
  custom_fields: Array<{ id: number; value: unknown }>;
  comments: EmuComment[];
  updates: number[];
  /** whole seconds, like Zendesk */
  updated_at: string;
}
interface Upload {
  token: string;
  files: Array<{ file_name: string; content_type: string; size: number }>;
  used: boolean;
}
interface IdemEntry {
  hash: string;
  createdAt: number;
  done: boolean;
  status?: number;
  body?: unknown;
}

export interface ZendeskEmulator {
  url: string;
  email: string;
  token: string;
  faults: ZendeskFaults;
  /** see EmulatorOptions.unrelatedResults; may be switched at any time */
  unrelatedResults: boolean;
  users: Map<number, EmuUser>;
  tickets: Map<number, EmuTicket>;
  uploads: Map<string, Upload>;
  /** count of responses by "METHOD route status" */
  stats: Map<string, number>;
  addUser(u: Partial<EmuUser> & { name: string }): EmuUser;
  /** ticket fields, views, triggers, webhooks and the requests webhooks sent */
  admin: AdminApi;
  /** true while a request with this Idempotency-Key is being processed */
  keyInFlight(key: string): boolean;
  /** requests being handled right now (slow faults included) */
  readonly active: number;
  close(): Promise<void>;
}

const stampNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const PRIORITIES = new Set(['low', 'normal', 'high', 'urgent']);
const UPDATE_LIMIT = 30;
const UPDATE_WINDOW_MS = 10 * 60_000;

export async function startZendeskEmulator(opts: EmulatorOptions = {}): Promise<ZendeskEmulator> {
  const email = opts.email ?? 'bot@example.com';
  const token = opts.token ?? 'test-token';
  const rand = mulberry32(opts.seed ?? 1);
  const faults: ZendeskFaults = {
    rate: 0,
    mix: { 429: 1, 500: 1, 503: 1, timeout: 1 },
    retryAfterSec: 1,
    slowMs: 1500,
    latencyMs: 0,
    next: [],
    ...opts.faults,
  };
  const ttl = opts.idempotencyTtlMs ?? 2 * 3600_000;
  const users = new Map<number, EmuUser>();
  const tickets = new Map<number, EmuTicket>();
  const uploads = new Map<string, Upload>();
  const idem = new Map<string, IdemEntry>();
  const stats = new Map<string, number>();
  let nextId = 1000;
  const hostile = { unrelated: opts.unrelatedResults ?? false };
  /** responses that get a 'foreign' fault: processed, then answered with another record */
  const foreignFor = new WeakSet<ServerResponse>();
  const expectedAuth = `Basic ${Buffer.from(`${email}/token:${token}`).toString('base64')}`;

  const addUser = (u: Partial<EmuUser> & { name: string }): EmuUser => {
    const user: EmuUser = {
      id: nextId++,
      name: u.name,
      phone: u.phone ?? null,
      email: u.email ?? null,
      external_id: u.external_id ?? null,
      role: u.role ?? 'end-user',
    };
    users.set(user.id, user);
    return user;
  };

  const pickFault = (): Fault | undefined => {
    const queued = faults.next.shift();
    if (queued !== undefined) return queued;
    if (faults.rate <= 0 || rand() >= faults.rate) return undefined;
    const entries = Object.entries(faults.mix).filter(([, w]) => (w ?? 0) > 0) as Array<[string, number]>;
    const total = entries.reduce((a, [, w]) => a + w, 0);
    let x = rand() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x <= 0) return (k === 'timeout' || k === 'foreign' ? k : Number(k)) as Fault;
    }
    return undefined;
  };

  const rateHeaders = { 'x-rate-limit': '700', 'x-rate-limit-remaining': '699' };
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    sendJson(res, status, foreignFor.has(res) && status < 300 ? misroute(body) : body, { ...rateHeaders, ...headers });
  /** Another record of the same kind than the one this answer is about (or a made-up one if there is none). */
  const misroute = (body: unknown): unknown => {
    const b = body as { ticket?: { id: number }; user?: { id: number }; upload?: { token: string } };
    if (b.ticket) {
      const other = [...tickets.values()].find((t) => t.id !== b.ticket!.id);
      return { ...b, ticket: other ? view(other) : { id: 1, external_id: 'someone-else', updated_at: stampNow() } };
    }
    if (b.user) {
      const other = [...users.values()].find((u) => u.id !== b.user!.id);
      return { ...b, user: other ?? { id: 2, name: 'Someone else', phone: '+15550001111', external_id: null } };
    }
    if (b.upload) {
      const other = [...uploads.values()].find((u) => u.token !== b.upload!.token && !u.used);
      const file = { file_name: 'someone-else.wav', content_type: 'audio/wav', size: 1 };
      return {
        upload: other ? { token: other.token, attachment: other.files[0] ?? file } : { token: 'x', attachment: file },
      };
    }
    return body;
  };
  const invalid = (res: ServerResponse, field: string, description: string) =>
    json(res, 422, {
      error: 'RecordInvalid',
      description: 'Record validation errors',
      details: { [field]: [{ description, error: 'InvalidValue' }] },
    });
  const notFound = (res: ServerResponse) => json(res, 404, { error: 'RecordNotFound', description: 'Not found' });
  const admin = createAdminApi({
    nextId: () => nextId++,
    json,
    invalid,
    notFound,
    requesterPhone: (id) => (id === null ? null : (users.get(id)?.phone ?? null)),
    maxPageSize: opts.maxPageSize ?? 100,
  });

  /** Zendesk keeps both: the plain body (derived from HTML when only html_body is sent) and the HTML. */
  const commentText = (c: { body?: string; html_body?: string }) => {
    const html = c.html_body ?? `<p>${(c.body ?? '').replace(/[&<>]/g, (x) => `&#${x.charCodeAt(0)};`)}</p>`;
    const body =
      c.body ??
      html
        .replace(/<\/(p|tr|h\d|li|table)>|<br\s*\/?>/gi, '\n')
        .replace(/<\/t[dh]>/gi, ' ')
        .replace(/<[^>]*>/g, '')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
        .replace(/&amp;/g, '&')
        .replace(/[ \t]+\n/g, '\n')
        .replace(/\n{2,}/g, '\n')
        .trim();
    return { body, html_body: html };
  };
  const digitsOf = (s: string | null) => (s ?? '').replace(/\D/g, '');
  /** the account's three oldest records that do not match (what a misbehaving server hands back) */
  const unrelated = <T>(all: Map<number, T>, other: (r: T) => boolean): T[] =>
    [...all.values()].filter(other).slice(0, 3);

  /** Route table: returns the route name for stats. */
  async function route(req: IncomingMessage, res: ServerResponse, url: URL, raw: Buffer): Promise<string> {
    const m = req.method ?? 'GET';
    const path = url.pathname;
    const body = () => {
      try {
        return JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return undefined;
      }
    };

    if (m === 'GET' && (path === '/api/v2/users/search.json' || path === '/api/v2/search.json')) {
      const q = url.searchParams.get('query') ?? '';
      const phoneTerm = /phone:(\*?)(\S+)/.exec(q);
      let found = [...users.values()];
      if (phoneTerm) {
        const wanted = digitsOf(phoneTerm[2]!);
        const wildcard = phoneTerm[1] === '*';
        found = found.filter((u) => {
          const d = digitsOf(u.phone);
          return d.length > 0 && (wildcard ? d.endsWith(wanted) : d === wanted);
        });
      } else found = [];
      if (hostile.unrelated) found = [...unrelated(users, (u) => !found.includes(u)), ...found];
      if (path === '/api/v2/search.json')
        json(res, 200, { results: found.map((u) => ({ ...u, result_type: 'user' })), count: found.length });
      else json(res, 200, { users: found, count: found.length });
      return 'users.search';
    }
    if (m === 'POST' && path === '/api/v2/users.json') {
      const user = (body()?.user ?? {}) as Partial<EmuUser>;
      if (!user.name) return (invalid(res, 'name', 'Name: cannot be blank'), 'users.create');
      json(res, 201, { user: addUser(user as EmuUser) });
      return 'users.create';
    }
    if (m === 'POST' && path === '/api/v2/users/create_or_update.json') {
      const user = (body()?.user ?? {}) as Partial<EmuUser>;
      if (!user.name) return (invalid(res, 'name', 'Name: cannot be blank'), 'users.create_or_update');
      const existing = [...users.values()].find(
        (u) => (user.external_id && u.external_id === user.external_id) || (user.email && u.email === user.email),
      );
      if (existing) {
        Object.assign(existing, { name: user.name, phone: user.phone ?? existing.phone });
        json(res, 200, { user: existing });
      } else json(res, 201, { user: addUser(user as EmuUser) });
      return 'users.create_or_update';
    }
    if (m === 'POST' && path === '/api/v2/uploads.json') {
      const filename = url.searchParams.get('filename');
      if (!filename) return (invalid(res, 'filename', 'filename is required'), 'uploads');
      const file = {
        file_name: filename,
        content_type: req.headers['content-type'] ?? 'application/binary',
        size: raw.length,
      };
      const tokenParam = url.searchParams.get('token');
      let upload = tokenParam ? uploads.get(tokenParam) : undefined;
      if (tokenParam && !upload) return (notFound(res), 'uploads');
      if (!upload) {
        upload = { token: randomBytes(12).toString('hex'), files: [], used: false };
        uploads.set(upload.token, upload);
      }
      upload.files.push(file);
      json(res, 201, { upload: { token: upload.token, attachment: file, attachments: upload.files } });
      return 'uploads';
    }
    if (m === 'POST' && path === '/api/v2/tickets.json') return createTicket(req, res, raw, body());
    if (m === 'GET' && path === '/api/v2/tickets.json') {
      const ext = url.searchParams.get('external_id');
      let list = [...tickets.values()].filter((t) => ext === null || t.external_id === ext);
      if (hostile.unrelated && ext !== null) list = [...unrelated(tickets, (t) => t.external_id !== ext), ...list];
      json(res, 200, { tickets: list.map(view), count: list.length });
      return 'tickets.list';
    }
    let mm = /^\/api\/v2\/tickets\/(\d+)\/comments\.json$/.exec(path);
    if (m === 'GET' && mm) {
      const t = tickets.get(Number(mm[1]));
      if (!t) return (notFound(res), 'comments.list');
      json(res, 200, { comments: t.comments, count: t.comments.length });
      return 'comments.list';
    }
    mm = /^\/api\/v2\/tickets\/(\d+)\.json$/.exec(path);
    if (mm && m === 'GET') {
      const t = tickets.get(Number(mm[1]));
      if (!t) return (notFound(res), 'tickets.show');
      json(res, 200, { ticket: view(t) });
      return 'tickets.show';
    }
    if (mm && m === 'PUT') return updateTicket(res, tickets.get(Number(mm[1])), body());
    const adminRoute = admin.route(m, path, url, body() ?? {}, res);
    if (adminRoute) return adminRoute;
    json(res, 404, { error: 'InvalidEndpoint', description: 'Not found' });
    return 'unknown';
  }

  function view(t: EmuTicket) {
    const { comments: _c, updates: _u, ...rest } = t;
    return rest;
  }

  /** Attach upload tokens to a comment: single use, must exist. */
  function takeUploads(tokens: unknown): EmuComment['attachments'] | string {
    if (tokens === undefined) return [];
    if (!Array.isArray(tokens)) return 'uploads must be a list of tokens';
    const files: EmuComment['attachments'] = [];
    for (const t of tokens) {
      const u = uploads.get(String(t));
      if (!u || u.used) return `upload token ${String(t)} is invalid or already used`;
      u.used = true;
      files.push(...u.files);
    }
    return files;
  }

  async function createTicket(
    req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer,
    parsed: Record<string, unknown> | undefined,
  ): Promise<string> {
    const key = req.headers['idempotency-key'];
    const hash = createHash('sha256').update(raw).digest('hex');
    let entry: IdemEntry | undefined;
    if (typeof key === 'string') {
      const prior = idem.get(key);
      if (prior && Date.now() - prior.createdAt < ttl) {
        if (prior.hash !== hash) {
          json(res, 400, {
            error: 'IdempotentRequestError',
            description: "Request parameters don't match the given idempotency key",
          });
          return 'tickets.create';
        }
        if (prior.done) {
          json(res, prior.status!, prior.body, { 'x-idempotency-lookup': 'hit' });
          return 'tickets.create.hit';
        }
        if (opts.concurrentDuplicate !== 'create') {
          json(res, 409, {
            error: 'IdempotentRequestInProgress',
            description: 'A request with this key is in progress',
          });
          return 'tickets.create.inflight';
        }
      }
      entry = { hash, createdAt: Date.now(), done: false };
      idem.set(key, entry);
    }
    const [status, payload] = buildTicket(parsed);
    if (entry) {
      if (status >= 500) idem.delete(key as string);
      else Object.assign(entry, { done: true, status, body: payload });
    }
    json(res, status, payload, entry ? { 'x-idempotency-lookup': 'miss' } : {});
    return 'tickets.create';
  }

  function buildTicket(parsed: Record<string, unknown> | undefined): [number, unknown] {
    const t = parsed?.ticket as Record<string, unknown> | undefined;
    const err = (field: string, description: string): [number, unknown] => [
      422,
      {
        error: 'RecordInvalid',
        description: 'Record validation errors',
        details: { [field]: [{ description, error: 'InvalidValue' }] },
      },
    ];
    if (!t) return err('ticket', 'ticket is required');
    const comment = t.comment as { body?: string; html_body?: string; public?: boolean; uploads?: unknown } | undefined;
    if (!comment || !(comment.body || comment.html_body)) return err('comment', 'Description: cannot be blank');
    if (t.priority !== undefined && !PRIORITIES.has(String(t.priority))) return err('priority', 'Priority: is invalid');
    const requesterId = t.requester_id as number | undefined;
    if (requesterId !== undefined && !users.has(requesterId)) return err('requester', 'Requester: is invalid');
    const badField = admin.checkCustomFieldValues(t.custom_fields);
    if (badField) return err('custom_fields', badField);
    const files = takeUploads(comment.uploads);
    if (typeof files === 'string') return err('uploads', files);
    const ticket: EmuTicket = {
      id: nextId++,
      subject: String(t.subject ?? ''),
      requester_id: requesterId ?? null,
      external_id: (t.external_id as string | undefined) ?? null,
      tags: ((t.tags as string[] | undefined) ?? []).map(String),
      priority: (t.priority as string | undefined) ?? null,
      status: 'new',
      custom_fields: (t.custom_fields as EmuTicket['custom_fields'] | undefined) ?? [],
      comments: [
        {
          id: nextId++,
          ...commentText(comment),
          public: comment.public ?? true,
          attachments: files,
        },
      ],
      updates: [],
      updated_at: stampNow(),
    };
    tickets.set(ticket.id, ticket);
    admin.ticketChanged(ticket, 'Create');
    return [201, { ticket: view(ticket), audit: { id: nextId++, ticket_id: ticket.id, events: [] } }];
  }

  function updateTicket(
    res: ServerResponse,
    t: EmuTicket | undefined,
    parsed: Record<string, unknown> | undefined,
  ): string {
    if (!t) return (notFound(res), 'tickets.update');
    const now = Date.now();
    t.updates = t.updates.filter((at) => now - at < UPDATE_WINDOW_MS);
    if (t.updates.length >= UPDATE_LIMIT) {
      res.writeHead(429, { 'retry-after': '60', 'content-type': 'text/plain' });
      res.end('Too many updates to this ticket');
      return 'tickets.update';
    }
    const u = (parsed?.ticket ?? {}) as Record<string, unknown>;
    const comment = u.comment as { body?: string; html_body?: string; public?: boolean; uploads?: unknown } | undefined;
    if (u.priority !== undefined && !PRIORITIES.has(String(u.priority)))
      return (invalid(res, 'priority', 'Priority: is invalid'), 'tickets.update');
    if (comment?.uploads !== undefined && !(comment.body || comment.html_body)) {
      return (invalid(res, 'comment', 'uploads attach only together with a comment'), 'tickets.update');
    }
    if (
      u.safe_update === true &&
      typeof u.updated_stamp === 'string' &&
      Date.parse(u.updated_stamp) !== Date.parse(t.updated_at)
    ) {
      json(res, 409, {
        error: 'UpdateConflict',
        description:
          'Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again.',
      });
      return 'tickets.update';
    }
    const badField = admin.checkCustomFieldValues(u.custom_fields);
    if (badField) return (invalid(res, 'custom_fields', badField), 'tickets.update');
    const files = takeUploads(comment?.uploads);
    if (typeof files === 'string') return (invalid(res, 'uploads', files), 'tickets.update');
    t.updates.push(now);
    t.updated_at = stampNow();
    if (comment)
      t.comments.push({
        id: nextId++,
        ...commentText(comment),
        public: comment.public ?? true,
        attachments: files,
      });
    if (Array.isArray(u.tags)) t.tags = u.tags.map(String);
    if (Array.isArray(u.additional_tags)) t.tags = [...new Set([...t.tags, ...u.additional_tags.map(String)])];
    if (typeof u.priority === 'string') t.priority = u.priority;
    for (const f of (u.custom_fields as EmuTicket['custom_fields'] | undefined) ?? []) {
      const at = t.custom_fields.findIndex((x) => x.id === f.id); // merged by field id, like Zendesk
      if (at >= 0) t.custom_fields[at] = f;
      else t.custom_fields.push(f);
    }
    if (typeof u.status === 'string') t.status = u.status;
    admin.ticketChanged(t, 'Change');
    json(res, 200, { ticket: view(t), audit: { id: nextId++, ticket_id: t.id, events: [] } });
    return 'tickets.update';
  }

  const count = (name: string) => stats.set(name, (stats.get(name) ?? 0) + 1);

  let active = 0;
  const server: Server = createServer((req, res) => {
    active++;
    res.on('close', () => active--);
    const handle = async () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'emulator'}`); // host: list pages link to the next
      const raw = await readBody(req);
      if (req.headers.authorization !== expectedAuth) {
        json(res, 401, { error: "Couldn't authenticate you" });
        return count(`${req.method} 401`);
      }
      if (faults.latencyMs > 0) await delay(faults.latencyMs);
      const targeted =
        (!faults.only || faults.only.test(url.pathname)) &&
        (!faults.methods || faults.methods.includes(req.method ?? ''));
      const fault = targeted ? pickFault() : undefined;
      if (fault === 429) {
        res.writeHead(429, {
          'retry-after': String(faults.retryAfterSec),
          'content-type': 'text/plain',
          ...rateHeaders,
          'x-rate-limit-remaining': '0',
        });
        res.end('Too Many Requests');
        return count(`${req.method} 429`);
      }
      if (fault === 422) {
        invalid(res, 'base', 'injected validation failure');
        return count(`${req.method} 422`);
      }
      if (typeof fault === 'number') {
        json(res, fault, { error: fault >= 500 ? 'ServerError' : 'BadRequest', description: 'injected fault' });
        return count(`${req.method} ${fault}`);
      }
      if (fault === 'foreign') {
        foreignFor.add(res);
        count(`${req.method} foreign`);
      }
      if (fault === 'timeout') {
        // Hold the request (any Idempotency-Key is "in flight" meanwhile), then do the work: the client has given up.
        const key = req.headers['idempotency-key'];
        const hash = createHash('sha256').update(raw).digest('hex');
        if (typeof key === 'string' && !idem.has(key)) idem.set(key, { hash, createdAt: Date.now(), done: false });
        await delay(faults.slowMs);
        if (typeof key === 'string' && idem.get(key)?.done === false) idem.delete(key);
        count(`${req.method} slow`);
      }
      const name = await route(req, res, url, raw);
      count(`${req.method} ${name} ${res.statusCode}`);
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: 'EmulatorError', description: (err as Error).message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    email,
    token,
    faults,
    get unrelatedResults() {
      return hostile.unrelated;
    },
    set unrelatedResults(on: boolean) {
      hostile.unrelated = on;
    },
    users,
    tickets,
    uploads,
    stats,
    addUser,
    admin,
    keyInFlight: (key) => idem.get(key)?.done === false,
    get active() {
      return active;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
