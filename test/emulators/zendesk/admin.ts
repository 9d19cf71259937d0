import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { zendeskSignature } from '../../../src/web/webhooks/zendesk-signature.js';

/**
 * The admin side of the Zendesk emulator: ticket fields, views, triggers and webhooks in Zendesk's documented
 * shapes (developer.zendesk.com API reference, checked December 2026), and the trigger → webhook path that
 * fires when a ticket is created or updated, signed like Zendesk signs (FACTS §4).
 *
 * Strict where Zendesk is documented strict, stricter where it is vague:
 * - ticket fields: `type` and `title` required, a known type; a checkbox tag already used by another field → 422
 *   ("Tags can't be re-used across custom ticket fields"); changing a field's type → 422 (our choice: the admin
 *   UI cannot do it either); system fields are listed and cannot be changed.
 * - views: `title` and `all` required, and `all` must check status, type, group_id, assignee_id or requester_id.
 * - triggers: title, at least one condition and one action; a `notification_webhook` action must name an existing
 *   webhook connected to triggers (`subscriptions: ["conditional_ticket_events"]`).
 * - webhooks: name, endpoint (absolute http(s) URL), http_method, request_format, status required; a trigger
 *   webhook subscribes to nothing else; the signing secret is Zendesk's, readable at `/signing_secret`;
 *   update answers 204 without a body.
 * - lists: cursor pagination (`page[size]` ≤ 100, `page[after]`; `meta.has_more`, `links.next`); ticket fields,
 *   views and triggers without `page[size]` answer offset pages with `next_page`.
 */

export interface EmuField {
  id: number;
  type: string;
  title: string;
  description: string;
  active: boolean;
  removable: boolean;
  tag: string | null;
  custom_field_options: Array<{ name: string; value: string }>;
  created_at: string;
  updated_at: string;
}
export interface Condition {
  field: string;
  operator: string;
  value: unknown;
}
export interface EmuView {
  id: number;
  title: string;
  active: boolean;
  description: string | null;
  conditions: { all: Condition[]; any: Condition[] };
  execution: { columns: Array<{ id: string | number; title: string }>; group_by: null; sort_by: string };
  restriction: null;
  position: number;
  created_at: string;
  updated_at: string;
}
export interface EmuTrigger {
  id: number;
  title: string;
  active: boolean;
  description: string | null;
  conditions: { all: Condition[]; any: Condition[] };
  actions: Array<{ field: string; value: unknown }>;
  position: number;
  category_id: string;
  created_at: string;
  updated_at: string;
}
export interface EmuWebhook {
  id: string;
  name: string;
  status: 'active' | 'inactive';
  endpoint: string;
  http_method: string;
  request_format: string;
  subscriptions: string[];
  description?: string;
  created_at: string;
  updated_at: string;
  secret: string;
}
/** One request a webhook sent (what the receiving end answered). */
export interface WebhookCall {
  webhookId: string;
  triggerId: number;
  ticketId: number;
  body: string;
  status: number | 'error';
}

/** What the ticket side tells the admin side about a ticket, and what triggers may change. */
export interface TriggerTicket {
  id: number;
  tags: string[];
  status: string;
  external_id: string | null;
  requester_id: number | null;
}

export interface AdminDeps {
  nextId: () => number;
  json: (res: ServerResponse, status: number, body: unknown) => void;
  invalid: (res: ServerResponse, field: string, description: string) => void;
  notFound: (res: ServerResponse) => void;
  requesterPhone: (userId: number | null) => string | null;
  /** cursor and offset pages never hold more than this (Zendesk: 100) */
  maxPageSize: number;
}

const FIELD_TYPES = new Set([
  'text',
  'textarea',
  'checkbox',
  'date',
  'integer',
  'decimal',
  'regexp',
  'partialcreditcard',
  'multiselect',
  'tagger',
  'lookup',
]);
const VIEW_KEY_FIELDS = new Set(['status', 'type', 'group_id', 'assignee_id', 'requester_id']);
const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const FORMATS = new Set(['json', 'xml', 'form_encoded']);
const STATUS_ORDER = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];
const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const COLUMN_TITLES: Record<string, string> = {
  status: 'Status',
  subject: 'Subject',
  requester: 'Requester',
  created: 'Requested',
  updated: 'Updated',
  priority: 'Priority',
  assignee: 'Assignee',
};

export function createAdminApi(deps: AdminDeps) {
  const fields = new Map<number, EmuField>();
  const views = new Map<number, EmuView>();
  const triggers = new Map<number, EmuTrigger>();
  const webhooks = new Map<string, EmuWebhook>();
  const webhookCalls: WebhookCall[] = [];
  const pending = new Set<Promise<void>>();
  let position = 0;
  for (const [type, title] of [
    ['subject', 'Subject'],
    ['description', 'Description'],
    ['status', 'Status'],
    ['priority', 'Priority'],
    ['tickettype', 'Type'],
  ] as const) {
    const id = deps.nextId();
    fields.set(id, {
      id,
      type,
      title,
      description: '',
      active: true,
      removable: false,
      tag: null,
      custom_field_options: [],
      created_at: stamp(),
      updated_at: stamp(),
    });
  }

  const webhookError = (res: ServerResponse, status: number, code: string, detail: string) =>
    deps.json(res, status, { errors: [{ code, title: code, detail }] });

  /** Cursor pages when `page[size]` is given, else offset pages (`page`, `per_page`); ids in ascending order. */
  function page<T extends { id: number | string }>(res: ServerResponse, url: URL, key: string, all: T[]): void {
    const sorted = [...all].sort((a, b) => String(a.id).localeCompare(String(b.id), 'en', { numeric: true }));
    const sizeParam = url.searchParams.get('page[size]');
    if (sizeParam !== null || key === 'webhooks') {
      const size = Math.min(Number(sizeParam ?? 100) || 100, deps.maxPageSize, 100);
      const after = url.searchParams.get('page[after]');
      const start = after
        ? sorted.findIndex((r) => String(r.id) === Buffer.from(after, 'base64url').toString()) + 1
        : 0;
      const items = sorted.slice(start, start + size);
      const hasMore = start + size < sorted.length;
      const cursor = items.length > 0 ? Buffer.from(String(items.at(-1)!.id)).toString('base64url') : null;
      const next = new URL(url.toString());
      next.searchParams.set('page[size]', String(size));
      if (cursor) next.searchParams.set('page[after]', cursor);
      deps.json(res, 200, {
        [key]: items,
        meta: { has_more: hasMore, after_cursor: cursor, before_cursor: null },
        links: { next: hasMore ? next.toString() : null, prev: null },
      });
      return;
    }
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 100) || 100, deps.maxPageSize, 100);
    const pageNo = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const items = sorted.slice((pageNo - 1) * perPage, pageNo * perPage);
    const next = new URL(url.toString());
    next.searchParams.set('page', String(pageNo + 1));
    deps.json(res, 200, {
      [key]: items,
      count: sorted.length,
      next_page: pageNo * perPage < sorted.length ? next.toString() : null,
      previous_page: null,
    });
  }

  // ---- ticket fields
  function checkField(f: Record<string, unknown>, existing?: EmuField): string | undefined {
    const type = f.type ?? existing?.type;
    if (typeof type !== 'string' || !FIELD_TYPES.has(type)) return 'type: is invalid';
    if (existing && f.type !== undefined && f.type !== existing.type) return 'type: cannot be changed';
    const title = f.title ?? existing?.title;
    if (typeof title !== 'string' || title.trim() === '') return 'title: cannot be blank';
    const tag = f.tag;
    if (typeof tag === 'string' && tag !== '') {
      const clash = [...fields.values()].some(
        (o) => o.id !== existing?.id && (o.tag === tag || o.custom_field_options.some((x) => x.value === tag)),
      );
      if (clash) return `tag: ${tag} is already used by another field`;
    }
    return undefined;
  }
  function fieldsRoute(m: string, path: string, url: URL, body: Record<string, unknown>, res: ServerResponse) {
    if (path === '/api/v2/ticket_fields.json' || path === '/api/v2/ticket_fields') {
      if (m === 'GET') return (page(res, url, 'ticket_fields', [...fields.values()]), 'ticket_fields.list');
      if (m === 'POST') {
        const f = body.ticket_field as Record<string, unknown> | undefined;
        if (!f) return (deps.invalid(res, 'ticket_field', 'ticket_field is required'), 'ticket_fields.create');
        const problem = checkField(f);
        if (problem) return (deps.invalid(res, 'base', problem), 'ticket_fields.create');
        const id = deps.nextId();
        const field: EmuField = {
          id,
          type: String(f.type),
          title: String(f.title),
          description: String(f.description ?? ''),
          active: f.active === undefined ? true : Boolean(f.active),
          removable: true,
          tag: typeof f.tag === 'string' && f.tag !== '' ? f.tag : null,
          custom_field_options: (f.custom_field_options as EmuField['custom_field_options'] | undefined) ?? [],
          created_at: stamp(),
          updated_at: stamp(),
        };
        fields.set(id, field);
        deps.json(res, 201, { ticket_field: field });
        return 'ticket_fields.create';
      }
    }
    const mm = /^\/api\/v2\/ticket_fields\/(\d+)(\.json)?$/.exec(path);
    if (!mm) return undefined;
    const field = fields.get(Number(mm[1]));
    if (!field) return (deps.notFound(res), 'ticket_fields.show');
    if (m === 'GET') return (deps.json(res, 200, { ticket_field: field }), 'ticket_fields.show');
    if (m === 'PUT') {
      const f = (body.ticket_field ?? {}) as Record<string, unknown>;
      if (!field.removable)
        return (deps.invalid(res, 'base', 'system fields cannot be changed'), 'ticket_fields.update');
      const problem = checkField(f, field);
      if (problem) return (deps.invalid(res, 'base', problem), 'ticket_fields.update');
      if (typeof f.title === 'string') field.title = f.title;
      if (typeof f.description === 'string') field.description = f.description;
      if (typeof f.active === 'boolean') field.active = f.active;
      if (f.tag !== undefined) field.tag = typeof f.tag === 'string' && f.tag !== '' ? f.tag : null;
      field.updated_at = stamp();
      deps.json(res, 200, { ticket_field: field });
      return 'ticket_fields.update';
    }
    return undefined;
  }

  /** A ticket's custom field values must suit the field's type (unknown ids are ignored, like Zendesk). */
  function checkCustomFieldValues(values: unknown): string | undefined {
    if (values === undefined) return undefined;
    if (!Array.isArray(values)) return 'custom_fields must be a list';
    for (const v of values as Array<{ id?: unknown; value?: unknown }>) {
      const field = fields.get(Number(v.id));
      if (!field || v.value === null) continue;
      const x = v.value;
      const ok =
        field.type === 'checkbox'
          ? typeof x === 'boolean'
          : field.type === 'integer'
            ? (typeof x === 'number' && Number.isInteger(x)) || (typeof x === 'string' && /^-?\d+$/.test(x))
            : field.type === 'decimal'
              ? (typeof x === 'number' && Number.isFinite(x)) || (typeof x === 'string' && /^-?\d+(\.\d+)?$/.test(x))
              : typeof x === 'string';
      if (!ok) return `${field.title}: is invalid`;
    }
    return undefined;
  }

  // ---- views
  function viewBody(v: Record<string, unknown>, existing?: EmuView): EmuView | string {
    const title = v.title ?? existing?.title;
    if (typeof title !== 'string' || title.trim() === '') return 'title: cannot be blank';
    const all = (v.all ?? existing?.conditions.all) as Condition[] | undefined;
    const any = (v.any ?? existing?.conditions.any ?? []) as Condition[];
    if (!Array.isArray(all) || all.length === 0) return 'all: at least one condition is required';
    if (!all.some((c) => VIEW_KEY_FIELDS.has(c.field)))
      return 'all: must check one of status, type, group_id, assignee_id or requester_id';
    const output = v.output as { columns?: Array<string | number> } | undefined;
    const columns = output?.columns
      ? output.columns.map((id) => ({
          id,
          title: typeof id === 'number' ? (fields.get(id)?.title ?? String(id)) : (COLUMN_TITLES[id] ?? id),
        }))
      : (existing?.execution.columns ?? [
          { id: 'subject', title: 'Subject' },
          { id: 'requester', title: 'Requester' },
        ]);
    const bad = columns.find((c) => typeof c.id === 'number' && !fields.has(c.id));
    if (bad) return `output: column ${bad.id} is not a ticket field`;
    return {
      id: existing?.id ?? deps.nextId(),
      title,
      active: typeof v.active === 'boolean' ? v.active : (existing?.active ?? true),
      description: (v.description as string | undefined) ?? existing?.description ?? null,
      conditions: { all, any },
      execution: { columns, group_by: null, sort_by: 'created' },
      restriction: null,
      position: existing?.position ?? position++,
      created_at: existing?.created_at ?? stamp(),
      updated_at: stamp(),
    };
  }
  function viewsRoute(m: string, path: string, url: URL, body: Record<string, unknown>, res: ServerResponse) {
    if (path === '/api/v2/views.json' || path === '/api/v2/views') {
      if (m === 'GET') return (page(res, url, 'views', [...views.values()]), 'views.list');
      if (m === 'POST') {
        const v = viewBody((body.view ?? {}) as Record<string, unknown>);
        if (typeof v === 'string') return (deps.invalid(res, 'base', v), 'views.create');
        views.set(v.id, v);
        deps.json(res, 201, { view: v });
        return 'views.create';
      }
    }
    const mm = /^\/api\/v2\/views\/(\d+)(\.json)?$/.exec(path);
    if (!mm) return undefined;
    const existing = views.get(Number(mm[1]));
    if (!existing) return (deps.notFound(res), 'views.show');
    if (m === 'GET') return (deps.json(res, 200, { view: existing }), 'views.show');
    if (m === 'PUT') {
      const v = viewBody((body.view ?? {}) as Record<string, unknown>, existing);
      if (typeof v === 'string') return (deps.invalid(res, 'base', v), 'views.update');
      views.set(v.id, v);
      deps.json(res, 200, { view: v });
      return 'views.update';
    }
    return undefined;
  }

  // ---- triggers
  function triggerBody(t: Record<string, unknown>, existing?: EmuTrigger): EmuTrigger | string {
    const title = t.title ?? existing?.title;
    if (typeof title !== 'string' || title.trim() === '') return 'title: cannot be blank';
    const conditions = (t.conditions ?? existing?.conditions) as { all?: Condition[]; any?: Condition[] } | undefined;
    const all = conditions?.all ?? [];
    const any = conditions?.any ?? [];
    if (all.length + any.length === 0) return 'conditions: at least one condition is required';
    const actions = (t.actions ?? existing?.actions) as EmuTrigger['actions'] | undefined;
    if (!Array.isArray(actions) || actions.length === 0) return 'actions: at least one action is required';
    for (const a of actions) {
      if (a.field !== 'notification_webhook') continue;
      const [id, payload] = Array.isArray(a.value) ? (a.value as unknown[]) : [];
      const hook = webhooks.get(String(id));
      if (!hook) return `actions: webhook ${String(id)} does not exist`;
      if (hook.subscriptions.join() !== 'conditional_ticket_events')
        return `actions: webhook ${hook.id} is not connected to triggers`;
      if (typeof payload !== 'string') return 'actions: notification_webhook needs [webhook id, body]';
    }
    return {
      id: existing?.id ?? deps.nextId(),
      title,
      active: typeof t.active === 'boolean' ? t.active : (existing?.active ?? true),
      description: (t.description as string | undefined) ?? existing?.description ?? null,
      conditions: { all, any },
      actions,
      position: existing?.position ?? position++,
      category_id: '10001',
      created_at: existing?.created_at ?? stamp(),
      updated_at: stamp(),
    };
  }
  function triggersRoute(m: string, path: string, url: URL, body: Record<string, unknown>, res: ServerResponse) {
    if (path === '/api/v2/triggers.json' || path === '/api/v2/triggers') {
      if (m === 'GET') return (page(res, url, 'triggers', [...triggers.values()]), 'triggers.list');
      if (m === 'POST') {
        const t = triggerBody((body.trigger ?? {}) as Record<string, unknown>);
        if (typeof t === 'string') return (deps.invalid(res, 'base', t), 'triggers.create');
        triggers.set(t.id, t);
        deps.json(res, 201, { trigger: t });
        return 'triggers.create';
      }
    }
    const mm = /^\/api\/v2\/triggers\/(\d+)(\.json)?$/.exec(path);
    if (!mm) return undefined;
    const existing = triggers.get(Number(mm[1]));
    if (!existing) return (deps.notFound(res), 'triggers.show');
    if (m === 'GET') return (deps.json(res, 200, { trigger: existing }), 'triggers.show');
    if (m === 'PUT') {
      const t = triggerBody((body.trigger ?? {}) as Record<string, unknown>, existing);
      if (typeof t === 'string') return (deps.invalid(res, 'base', t), 'triggers.update');
      triggers.set(t.id, t);
      deps.json(res, 200, { trigger: t });
      return 'triggers.update';
    }
    return undefined;
  }

  // ---- webhooks
  function webhookBody(w: Record<string, unknown>, existing?: EmuWebhook): EmuWebhook | string {
    const v = { ...existing, ...w } as Record<string, unknown>;
    if (typeof v.name !== 'string' || v.name.trim() === '') return 'name is required';
    let endpoint: URL;
    try {
      endpoint = new URL(String(v.endpoint));
    } catch {
      return 'endpoint must be an absolute URL';
    }
    if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') return 'endpoint must be http or https';
    if (endpoint.username || endpoint.password) return 'endpoint must not hold credentials';
    if (!HTTP_METHODS.has(String(v.http_method))) return 'http_method is invalid';
    if (!FORMATS.has(String(v.request_format))) return 'request_format is invalid';
    if (v.status !== 'active' && v.status !== 'inactive') return 'status is invalid';
    const subs = (v.subscriptions ?? []) as string[];
    if (!Array.isArray(subs)) return 'subscriptions must be a list';
    if (subs.includes('conditional_ticket_events') && subs.length > 1)
      return 'a webhook connected to triggers subscribes to nothing else';
    if (existing && existing.subscriptions.join() !== subs.join())
      return "a webhook's connection method cannot be changed";
    return {
      id: existing?.id ?? `01${randomBytes(15).toString('hex').toUpperCase().slice(0, 24)}`,
      name: v.name,
      status: v.status,
      endpoint: endpoint.toString(),
      http_method: String(v.http_method),
      request_format: String(v.request_format),
      subscriptions: subs,
      ...(typeof v.description === 'string' ? { description: v.description } : {}),
      created_at: existing?.created_at ?? stamp(),
      updated_at: stamp(),
      secret: existing?.secret ?? randomBytes(32).toString('base64'),
    };
  }
  const webhookView = ({ secret: _s, ...rest }: EmuWebhook) => rest;
  function webhooksRoute(m: string, path: string, url: URL, body: Record<string, unknown>, res: ServerResponse) {
    if (path === '/api/v2/webhooks') {
      if (m === 'GET') return (page(res, url, 'webhooks', [...webhooks.values()].map(webhookView)), 'webhooks.list');
      if (m === 'POST') {
        const w = webhookBody((body.webhook ?? {}) as Record<string, unknown>);
        if (typeof w === 'string') return (webhookError(res, 400, 'InvalidInput', w), 'webhooks.create');
        webhooks.set(w.id, w);
        deps.json(res, 201, { webhook: webhookView(w) });
        return 'webhooks.create';
      }
    }
    const mm = /^\/api\/v2\/webhooks\/([A-Za-z0-9]+)(\/signing_secret)?$/.exec(path);
    if (!mm) return undefined;
    const existing = webhooks.get(mm[1]!);
    if (!existing) return (webhookError(res, 404, 'NotFound', 'webhook not found'), 'webhooks.show');
    if (mm[2]) {
      if (m === 'GET') {
        deps.json(res, 200, { signing_secret: { algorithm: 'sha256', secret: existing.secret } });
        return 'webhooks.signing_secret';
      }
      if (m === 'POST') {
        existing.secret = randomBytes(32).toString('base64');
        deps.json(res, 200, { signing_secret: { algorithm: 'sha256', secret: existing.secret } });
        return 'webhooks.signing_secret.reset';
      }
      return undefined;
    }
    if (m === 'GET') return (deps.json(res, 200, { webhook: webhookView(existing) }), 'webhooks.show');
    if (m === 'PUT') {
      const w = webhookBody((body.webhook ?? {}) as Record<string, unknown>, existing);
      if (typeof w === 'string') return (webhookError(res, 400, 'InvalidInput', w), 'webhooks.update');
      webhooks.set(w.id, w);
      res.writeHead(204);
      res.end();
      return 'webhooks.update';
    }
    return undefined;
  }

  // ---- the trigger engine: conditions on tags, status and update type; tag actions; webhook notifications
  function matches(c: Condition, t: TriggerTicket, kind: 'Create' | 'Change'): boolean {
    const words = String(c.value ?? '')
      .split(/\s+/)
      .filter(Boolean);
    switch (`${c.field} ${c.operator}`) {
      case 'current_tags includes':
        return words.some((w) => t.tags.includes(w));
      case 'current_tags not_includes':
        return !words.some((w) => t.tags.includes(w));
      case 'update_type is':
        return c.value === kind;
      case 'status is':
        return t.status === c.value;
      case 'status less_than':
        return STATUS_ORDER.indexOf(t.status) < STATUS_ORDER.indexOf(String(c.value));
      default:
        return false; // a condition the emulator does not know never matches: nothing fires by accident
    }
  }
  function render(template: string, t: TriggerTicket): string {
    const values: Record<string, string> = {
      'ticket.id': String(t.id),
      'ticket.tags': t.tags.join(' '),
      'ticket.external_id': t.external_id ?? '',
      'ticket.status': t.status,
      'ticket.requester.phone': deps.requesterPhone(t.requester_id) ?? '',
    };
    return template.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, (all, key: string) =>
      key in values ? JSON.stringify(values[key]).slice(1, -1) : all,
    );
  }
  async function send(hook: EmuWebhook, trigger: EmuTrigger, t: TriggerTicket, body: string): Promise<void> {
    const timestamp = stamp();
    let status: number | 'error';
    try {
      const res = await fetch(hook.endpoint, {
        method: hook.http_method,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'x-zendesk-webhook-id': hook.id,
          'x-zendesk-webhook-invocation-id': randomBytes(8).readBigUInt64BE().toString(),
          'x-zendesk-webhook-signature-timestamp': timestamp,
          'x-zendesk-webhook-signature': zendeskSignature(hook.secret, timestamp, body),
        },
        body: hook.http_method === 'GET' || hook.http_method === 'DELETE' ? undefined : body,
        signal: AbortSignal.timeout(10_000), // Zendesk gives a receiver about 10 s
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = 'error';
    }
    webhookCalls.push({ webhookId: hook.id, triggerId: trigger.id, ticketId: t.id, body, status });
  }
  /** Runs the active triggers in position order over a ticket that was just created or updated. */
  function ticketChanged(t: TriggerTicket, kind: 'Create' | 'Change'): void {
    const ordered = [...triggers.values()].filter((x) => x.active).sort((a, b) => a.position - b.position);
    for (const trigger of ordered) {
      const { all, any } = trigger.conditions;
      if (!all.every((c) => matches(c, t, kind))) continue;
      if (any.length > 0 && !any.some((c) => matches(c, t, kind))) continue;
      for (const a of trigger.actions) {
        if (a.field === 'current_tags')
          t.tags.push(
            ...String(a.value)
              .split(/\s+/)
              .filter((w) => !t.tags.includes(w)),
          );
        if (a.field === 'remove_tags') {
          const drop = new Set(String(a.value).split(/\s+/));
          t.tags.splice(0, t.tags.length, ...t.tags.filter((w) => !drop.has(w)));
        }
        if (a.field === 'notification_webhook') {
          const [id, template] = a.value as [string, string];
          const hook = webhooks.get(id);
          if (!hook || hook.status !== 'active') continue;
          const p = send(hook, trigger, t, render(template, t)).finally(() => pending.delete(p));
          pending.add(p);
        }
      }
    }
  }

  return {
    fields,
    views,
    triggers,
    webhooks,
    webhookCalls,
    checkCustomFieldValues,
    ticketChanged,
    /** webhook requests still in flight */
    settled: () => Promise.allSettled([...pending]),
    route(m: string, path: string, url: URL, body: Record<string, unknown>, res: ServerResponse): string | undefined {
      if (path.startsWith('/api/v2/ticket_fields')) return fieldsRoute(m, path, url, body, res);
      if (path.startsWith('/api/v2/views')) return viewsRoute(m, path, url, body, res);
      if (path.startsWith('/api/v2/triggers')) return triggersRoute(m, path, url, body, res);
      if (path.startsWith('/api/v2/webhooks')) return webhooksRoute(m, path, url, body, res);
      return undefined;
    },
  };
}

export type AdminApi = ReturnType<typeof createAdminApi>;
