import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delay, mulberry32, readBody, sendJson } from '../http-util.js';

/**
 * HubSpot CRM v3 emulator (FACTS §5): Bearer auth, contacts search (EQ, filter groups ORed), objects create with
 * associations (194 call→contact, 202 note→contact), PATCH, required hs_timestamp, 429 with the JSON body.
 * Custom properties (`/crm/v3/properties/{type}`) with `hasUniqueValue` enforced on every write, batch upsert by such a
 * property (`/crm/v3/objects/{type}/batch/upsert`), v4 labelled associations (PUT, idempotent), fault injection and
 * lookups that answer with unrelated contacts.
 */
export type HubspotFault = 429 | 500 | 503 | 'timeout';
export interface HubspotFaults {
  rate: number;
  mix: Partial<Record<`${HubspotFault}`, number>>;
  /** 'timeout': the request is processed after this delay (the client has given up by then) */
  slowMs: number;
  /** faults to serve next, in order, before the random ones */
  next: HubspotFault[];
  /** which paths faults apply to (default: all) */
  only?: RegExp;
}
export interface HubspotProperty {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  hasUniqueValue: boolean;
}
export interface HubspotObjectRecord {
  id: string;
  type: 'contacts' | 'calls' | 'notes';
  properties: Record<string, string>;
  associations: Array<{ toId: string; typeId: number }>;
}

export interface HubspotEmulator {
  url: string;
  token: string;
  objects: Map<string, HubspotObjectRecord>;
  /** serve 429 to the next N requests */
  rateLimitNext: number;
  requests: string[];
  faults: HubspotFaults;
  /** contacts search answers with unrelated contacts first, then the real matches */
  unrelatedResults: boolean;
  /** custom properties by "type/name" */
  properties: Map<string, HubspotProperty>;
  /** count of responses by "METHOD route status" (faults: "METHOD 429", "METHOD slow") */
  stats: Map<string, number>;
  /** requests being handled right now (slow faults included) */
  readonly active: number;
  addContact(properties: Record<string, string>): HubspotObjectRecord;
  byType(type: HubspotObjectRecord['type']): HubspotObjectRecord[];
  close(): Promise<void>;
}

const EXPECTED_ASSOC: Record<string, number> = { calls: 194, notes: 202 };

export async function startHubspotEmulator(
  opts: { token?: string; searchLagMs?: number; seed?: number; unrelatedResults?: boolean } = {},
): Promise<HubspotEmulator> {
  const rand = mulberry32(opts.seed ?? 1);
  let active = 0;
  /** HubSpot search lags fresh writes by seconds: objects younger than this are not found yet */
  const lag = opts.searchLagMs ?? 0;
  const createdAt = new Map<string, number>();
  const token = opts.token ?? 'pat-test';
  const objects = new Map<string, HubspotObjectRecord>();
  let nextId = 5001;
  const emu: HubspotEmulator = {
    url: '',
    token,
    objects,
    rateLimitNext: 0,
    requests: [],
    faults: { rate: 0, mix: { 429: 1, 500: 1, 503: 1, timeout: 1 }, slowMs: 1500, next: [] },
    unrelatedResults: opts.unrelatedResults ?? false,
    properties: new Map(),
    stats: new Map(),
    get active() {
      return active;
    },
    addContact: (properties) => {
      const c = create('contacts', properties, []);
      createdAt.set(c.id, 0); // seeded: existed long before, so search finds it at once
      return c;
    },
    byType: (type) => [...objects.values()].filter((o) => o.type === type),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  function create(
    type: HubspotObjectRecord['type'],
    properties: Record<string, string>,
    associations: HubspotObjectRecord['associations'],
  ) {
    const o: HubspotObjectRecord = { id: String(nextId++), type, properties, associations };
    objects.set(o.id, o);
    createdAt.set(o.id, Date.now());
    return o;
  }
  const out = (o: HubspotObjectRecord) => ({
    id: o.id,
    properties: o.properties,
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    archived: false,
  });
  const validation = (res: ServerResponse, message: string) =>
    sendJson(res, 400, { status: 'error', message, category: 'VALIDATION_ERROR', correlationId: 'emu' });

  const notFound = (res: ServerResponse, message = 'Object not found') =>
    sendJson(res, 404, { status: 'error', message, category: 'OBJECT_NOT_FOUND', correlationId: 'emu' });
  const count = (name: string) => emu.stats.set(name, (emu.stats.get(name) ?? 0) + 1);

  const pickFault = (path: string): HubspotFault | undefined => {
    const f = emu.faults;
    if (f.only && !f.only.test(path)) return undefined;
    const queued = f.next.shift();
    if (queued !== undefined) return queued;
    if (f.rate <= 0 || rand() >= f.rate) return undefined;
    const entries = Object.entries(f.mix).filter(([, w]) => (w ?? 0) > 0) as Array<[string, number]>;
    let x = rand() * entries.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of entries) {
      x -= w;
      if (x <= 0) return (k === 'timeout' ? k : Number(k)) as HubspotFault;
    }
    return undefined;
  };

  /** A write that would give a unique-value property a value another object of the type already has. */
  const uniqueClash = (type: string, props: Record<string, string>, self?: string): string | undefined => {
    for (const p of emu.properties.values()) {
      if (!p.hasUniqueValue || !emu.properties.has(`${type}/${p.name}`) || props[p.name] === undefined) continue;
      const other = emu
        .byType(type as HubspotObjectRecord['type'])
        .find((o) => o.id !== self && o.properties[p.name] === props[p.name]);
      if (other) return `${p.name} value ${props[p.name]} already exists on object ${other.id}`;
    }
    return undefined;
  };

  type AssocInput = { to: { id: string }; types: Array<{ associationCategory: string; associationTypeId: number }> };
  /** Validated associations to contacts, or an error message. */
  const associationsFor = (type: string, input: AssocInput[]): HubspotObjectRecord['associations'] | string => {
    const out: HubspotObjectRecord['associations'] = [];
    for (const a of input) {
      const target = objects.get(String(a.to.id));
      if (!target || target.type !== 'contacts') return `association target ${a.to.id} not found`;
      for (const t of a.types) {
        if (t.associationCategory !== 'HUBSPOT_DEFINED' || t.associationTypeId !== EXPECTED_ASSOC[type]) {
          return `invalid association type ${t.associationTypeId} for ${type}→contacts`;
        }
        out.push({ toId: target.id, typeId: t.associationTypeId });
      }
    }
    return out;
  };

  const objectProblem = (type: string, props: Record<string, string>): string | undefined => {
    if (type !== 'contacts' && !props.hs_timestamp) return 'Property "hs_timestamp" is required';
    if (type === 'notes' && (props.hs_note_body ?? '').length > 65_536) return 'hs_note_body too long';
    if (props.hs_call_recording_url && !props.hs_call_recording_url.startsWith('https://')) {
      return 'hs_call_recording_url must be HTTPS';
    }
    return undefined;
  };

  async function route(req: IncomingMessage, res: ServerResponse, path: string, body: Record<string, unknown>) {
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts/search') {
      const groups = (body.filterGroups ?? []) as Array<{
        filters: Array<{ propertyName: string; operator: string; value: string }>;
      }>;
      if (groups.length > 5) return (validation(res, 'too many filterGroups (max 5)'), 'contacts.search');
      const visible = emu.byType('contacts').filter((c) => Date.now() - (createdAt.get(c.id) ?? 0) >= lag);
      let results = visible.filter((c) =>
        groups.some((g) => g.filters.every((f) => f.operator === 'EQ' && c.properties[f.propertyName] === f.value)),
      );
      if (emu.unrelatedResults) results = [...visible.filter((c) => !results.includes(c)).slice(0, 3), ...results];
      sendJson(res, 200, { total: results.length, results: results.map(out) });
      return 'contacts.search';
    }
    let m = /^\/crm\/v3\/properties\/(contacts|calls|notes)(?:\/(\w+))?$/.exec(path);
    if (m && req.method === 'GET' && m[2]) {
      const p = emu.properties.get(`${m[1]}/${m[2]}`);
      if (!p) return (notFound(res, `Unable to find property ${m[2]}`), 'properties.get');
      sendJson(res, 200, p);
      return 'properties.get';
    }
    if (m && req.method === 'POST' && !m[2]) {
      const p = body as Partial<HubspotProperty>;
      if (!p.name || !p.label || !p.type || !p.fieldType || !p.groupName) {
        return (validation(res, 'name, label, type, fieldType and groupName are required'), 'properties.create');
      }
      const key = `${m[1]}/${p.name}`;
      if (emu.properties.has(key)) {
        sendJson(res, 409, {
          status: 'error',
          message: `Property ${p.name} already exists`,
          category: 'OBJECT_ALREADY_EXISTS',
        });
        return 'properties.create';
      }
      const prop: HubspotProperty = {
        name: p.name,
        label: p.label,
        type: p.type,
        fieldType: p.fieldType,
        groupName: p.groupName,
        hasUniqueValue: p.hasUniqueValue === true,
      };
      emu.properties.set(key, prop);
      sendJson(res, 201, prop);
      return 'properties.create';
    }
    m = /^\/crm\/v3\/objects\/(contacts|calls|notes)\/batch\/upsert$/.exec(path);
    if (req.method === 'POST' && m) {
      const type = m[1] as HubspotObjectRecord['type'];
      const inputs = (body.inputs ?? []) as Array<{
        id?: string;
        idProperty?: string;
        properties?: Record<string, string>;
      }>;
      if (inputs.length === 0 || inputs.length > 100) return (validation(res, 'inputs: 1 to 100 required'), 'upsert');
      const results: unknown[] = [];
      for (const input of inputs) {
        const unique = emu.properties.get(`${type}/${input.idProperty ?? ''}`);
        if (!unique?.hasUniqueValue || !input.id) {
          return (
            validation(res, `idProperty ${input.idProperty} is not a unique-value property of ${type}`),
            'upsert'
          );
        }
        const props = { ...(input.properties ?? {}), [unique.name]: input.id };
        const existing = emu.byType(type).find((o) => o.properties[unique.name] === input.id);
        const merged = existing ? { ...existing.properties, ...props } : props;
        const problem = objectProblem(type, merged) ?? uniqueClash(type, merged, existing?.id);
        if (problem) return (validation(res, problem), 'upsert');
        if (existing) existing.properties = merged;
        const o = existing ?? create(type, merged, []);
        results.push({ ...out(o), new: !existing });
      }
      const now = new Date().toISOString();
      sendJson(res, 200, { status: 'COMPLETE', results, startedAt: now, completedAt: now });
      return 'upsert';
    }
    m = /^\/crm\/v4\/objects\/(calls|notes)\/(\w+)\/associations\/contacts\/(\w+)$/.exec(path);
    if (req.method === 'PUT' && m) {
      const from = objects.get(m[2]!);
      if (!from || from.type !== m[1]) return (notFound(res), 'associate');
      const types = (Array.isArray(body) ? body : []) as AssocInput['types'];
      const assocs = associationsFor(m[1]!, [{ to: { id: m[3]! }, types }]);
      if (typeof assocs === 'string') return (validation(res, assocs), 'associate');
      for (const a of assocs) {
        if (!from.associations.some((x) => x.toId === a.toId && x.typeId === a.typeId)) from.associations.push(a);
      }
      const typeIds: Record<string, string> = { calls: '0-48', notes: '0-46' };
      sendJson(res, 201, {
        fromObjectTypeId: typeIds[m[1]!],
        fromObjectId: Number(from.id),
        toObjectTypeId: '0-1',
        toObjectId: Number(m[3]),
        labels: [],
      });
      return 'associate';
    }
    m = /^\/crm\/v3\/objects\/(contacts|calls|notes)$/.exec(path);
    if (req.method === 'POST' && m) {
      const type = m[1] as HubspotObjectRecord['type'];
      const props = (body.properties ?? {}) as Record<string, string>;
      const problem = objectProblem(type, props);
      if (problem) return (validation(res, problem), 'create');
      const assocs = associationsFor(type, (body.associations ?? []) as AssocInput[]);
      if (typeof assocs === 'string') return (validation(res, assocs), 'create');
      const clash = uniqueClash(type, props);
      if (clash) {
        sendJson(res, 409, { status: 'error', message: clash, category: 'CONFLICT' });
        return 'create';
      }
      sendJson(res, 201, out(create(type, props, assocs)));
      return 'create';
    }
    m = /^\/crm\/v3\/objects\/(calls|contacts|notes)\/(\w+)$/.exec(path);
    if (req.method === 'PATCH' && m) {
      const o = objects.get(m[2]!);
      if (!o || o.type !== m[1]) return (notFound(res), 'patch');
      const merged = { ...o.properties, ...((body.properties ?? {}) as Record<string, string>) };
      const clash = uniqueClash(o.type, merged, o.id);
      if (clash) {
        sendJson(res, 409, { status: 'error', message: clash, category: 'CONFLICT' });
        return 'patch';
      }
      o.properties = merged;
      sendJson(res, 200, out(o));
      return 'patch';
    }
    sendJson(res, 404, { status: 'error', message: 'Not found' });
    return 'unknown';
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const raw = await readBody(req);
    emu.requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `Bearer ${token}`) {
      return sendJson(res, 401, {
        status: 'error',
        message: 'Authentication credentials not found.',
        category: 'INVALID_AUTHENTICATION',
      });
    }
    const fault = pickFault(url.pathname);
    if (emu.rateLimitNext > 0 || fault === 429) {
      if (emu.rateLimitNext > 0) emu.rateLimitNext--;
      count(`${req.method} 429`);
      return sendJson(
        res,
        429,
        {
          status: 'error',
          message: 'You have reached your ten_secondly_rolling limit.',
          errorType: 'RATE_LIMIT',
          policyName: 'TEN_SECONDLY_ROLLING',
          correlationId: 'emu',
        },
        { 'retry-after': '1' },
      );
    }
    if (fault === 500 || fault === 503) {
      count(`${req.method} ${fault}`);
      return sendJson(res, fault, { status: 'error', message: 'injected fault', category: 'INTERNAL_ERROR' });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return validation(res, 'Invalid input JSON');
    }
    if (fault === 'timeout') {
      await delay(emu.faults.slowMs); // then do the work: the client has given up by now
      count(`${req.method} slow`);
    }
    const name = await route(req, res, url.pathname, body);
    count(`${req.method} ${name} ${res.statusCode}`);
  }

  const server: Server = createServer((req, res) => {
    active++;
    res.on('close', () => active--);
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { status: 'error', message: (err as Error).message });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return emu;
}
