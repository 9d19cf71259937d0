import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody, sendJson } from '../http-util.js';

/**
 * HubSpot CRM v3 emulator (FACTS §5): Bearer auth, contacts search (EQ, filter groups ORed), objects create with
 * associations (194 call→contact, 202 note→contact), PATCH, required hs_timestamp, 429 with the JSON body.
 */
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
  addContact(properties: Record<string, string>): HubspotObjectRecord;
  byType(type: HubspotObjectRecord['type']): HubspotObjectRecord[];
  close(): Promise<void>;
}

const EXPECTED_ASSOC: Record<string, number> = { calls: 194, notes: 202 };

export async function startHubspotEmulator(
  opts: { token?: string; searchLagMs?: number } = {},
): Promise<HubspotEmulator> {
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
    addContact: (properties) => create('contacts', properties, []),
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
    if (emu.rateLimitNext > 0) {
      emu.rateLimitNext--;
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
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return validation(res, 'Invalid input JSON');
    }
    const path = url.pathname;
    if (req.method === 'POST' && path === '/crm/v3/objects/contacts/search') {
      const groups = (body.filterGroups ?? []) as Array<{
        filters: Array<{ propertyName: string; operator: string; value: string }>;
      }>;
      if (groups.length > 5) return validation(res, 'too many filterGroups (max 5)');
      const results = emu
        .byType('contacts')
        .filter((c) => Date.now() - (createdAt.get(c.id) ?? 0) >= lag)
        .filter((c) =>
          groups.some((g) => g.filters.every((f) => f.operator === 'EQ' && c.properties[f.propertyName] === f.value)),
        );
      return sendJson(res, 200, { total: results.length, results: results.map(out) });
    }
    let m = /^\/crm\/v3\/objects\/(contacts|calls|notes)$/.exec(path);
    if (req.method === 'POST' && m) {
      const type = m[1] as HubspotObjectRecord['type'];
      const props = (body.properties ?? {}) as Record<string, string>;
      if (type !== 'contacts' && !props.hs_timestamp) return validation(res, 'Property "hs_timestamp" is required');
      if (type === 'notes' && (props.hs_note_body ?? '').length > 65_536)
        return validation(res, 'hs_note_body too long');
      if (props.hs_call_recording_url && !props.hs_call_recording_url.startsWith('https://')) {
        return validation(res, 'hs_call_recording_url must be HTTPS');
      }
      const assocs: HubspotObjectRecord['associations'] = [];
      for (const a of (body.associations ?? []) as Array<{
        to: { id: string };
        types: Array<{ associationCategory: string; associationTypeId: number }>;
      }>) {
        const target = objects.get(String(a.to.id));
        if (!target || target.type !== 'contacts') return validation(res, `association target ${a.to.id} not found`);
        for (const t of a.types) {
          if (t.associationCategory !== 'HUBSPOT_DEFINED' || t.associationTypeId !== EXPECTED_ASSOC[type]) {
            return validation(res, `invalid association type ${t.associationTypeId} for ${type}→contacts`);
          }
          assocs.push({ toId: target.id, typeId: t.associationTypeId });
        }
      }
      return sendJson(res, 201, out(create(type, props, assocs)));
    }
    m = /^\/crm\/v3\/objects\/(calls|contacts|notes)\/(\w+)$/.exec(path);
    if (req.method === 'PATCH' && m) {
      const o = objects.get(m[2]!);
      if (!o || o.type !== m[1])
        return sendJson(res, 404, { status: 'error', message: 'Object not found', category: 'OBJECT_NOT_FOUND' });
      Object.assign(o.properties, (body.properties ?? {}) as Record<string, string>);
      return sendJson(res, 200, out(o));
    }
    sendJson(res, 404, { status: 'error', message: 'Not found' });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { status: 'error', message: (err as Error).message });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return emu;
}
