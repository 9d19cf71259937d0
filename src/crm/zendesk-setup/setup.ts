import { isDeepStrictEqual } from 'node:util';
import type { ZendeskAdminClient } from './admin-client.js';
import {
  FIELD_SPECS,
  SETUP_TAGS,
  TRIGGER_TITLE,
  WEBHOOK_NAME,
  triggerSpec,
  viewSpecs,
  webhookSpec,
  type Condition,
  type FieldSpec,
} from './desired.js';

/**
 * `voicebot zendesk setup`: read what the account has, compare it with what the bot needs (desired.ts), and create
 * or update only what differs. Everything is read and checked before the first write, so a conflict (a field of
 * ours with another type) stops the run having changed nothing. A second run finds everything up to date and
 * writes nothing.
 */
export type StepAction = 'create' | 'update' | 'up to date';
export interface SetupStep {
  kind: 'ticket field' | 'view' | 'webhook' | 'trigger';
  title: string;
  action: StepAction;
  id?: number | string;
  /** what an update changes */
  changes?: string[];
  /** e.g. several records with our title */
  note?: string;
}
export interface SetupResult {
  steps: SetupStep[];
  /** CallRecord field → ticket field id, for crm.sinks[type=zendesk].customFields (ids of new fields: after a run) */
  customFields: Record<string, number>;
  webhookId?: string;
  /** the webhook's signing secret (not read on a dry run) */
  signingSecret?: string;
  tags: string[];
}

export class SetupConflictError extends Error {}

interface ZdField {
  id: number;
  type: string;
  title: string;
  description?: string;
  active?: boolean;
}
interface ZdView {
  id: number;
  title: string;
  active?: boolean;
  conditions?: { all?: Condition[]; any?: Condition[] };
  execution?: { columns?: Array<{ id: string | number }> };
}
interface ZdTrigger {
  id: number;
  title: string;
  active?: boolean;
  conditions?: { all?: Condition[]; any?: Condition[] };
  actions?: Array<{ field: string; value: unknown }>;
}
interface ZdWebhook {
  id: string;
  name: string;
  status?: string;
  endpoint?: string;
  http_method?: string;
  request_format?: string;
  subscriptions?: string[];
}

/** Ours: exactly this title; several → the lowest id (and say so), like every other lookup (match.ts). */
function ours<T extends { id: number | string }>(
  records: T[],
  title: string,
  titleOf: (r: T) => string,
): { record?: T; note?: string } {
  const same = records
    .filter((r) => titleOf(r) === title)
    .sort((a, b) => String(a.id).localeCompare(String(b.id), 'en', { numeric: true }));
  const note = same.length > 1 ? `${same.length} records have this title; using id ${same[0]!.id}` : undefined;
  return { ...(same[0] ? { record: same[0] } : {}), ...(note ? { note } : {}) };
}

/** Conditions compare as sets (Zendesk may return them in another order). */
const conditionKey = (c: Condition[] = []) =>
  c.map((x) => `${x.field}\u0000${x.operator}\u0000${String(x.value)}`).sort();

function differences(pairs: Array<[string, unknown, unknown]>): string[] {
  return pairs.filter(([, have, want]) => !isDeepStrictEqual(have, want)).map(([name]) => name);
}

export interface SetupOptions {
  client: ZendeskAdminClient;
  /** where Zendesk's webhook sends callbacks: the bot's public URL + /api/webhooks/zendesk */
  webhookEndpoint: string;
  dryRun: boolean;
}

export async function zendeskSetup(opts: SetupOptions): Promise<SetupResult> {
  const { client, dryRun } = opts;
  // Read everything first.
  const [fields, views, webhooks, triggers] = await Promise.all([
    client.list<ZdField>('/api/v2/ticket_fields', 'ticket_fields'),
    client.list<ZdView>('/api/v2/views', 'views'),
    client.list<ZdWebhook>('/api/v2/webhooks', 'webhooks'),
    client.list<ZdTrigger>('/api/v2/triggers', 'triggers'),
  ]);
  const fieldPlan = FIELD_SPECS.map((spec) => planField(spec, fields));
  const clash = fieldPlan.find((p) => p.conflict);
  if (clash) throw new SetupConflictError(clash.conflict);

  const steps: SetupStep[] = [];
  const customFields: Record<string, number> = {};
  for (const p of fieldPlan) {
    let id = p.step.id as number | undefined;
    if (!dryRun && p.step.action === 'create') {
      id = (await client.create<ZdField>('/api/v2/ticket_fields', 'ticket_field', p.body)).id;
    } else if (!dryRun && p.step.action === 'update') {
      await client.update(`/api/v2/ticket_fields/${id}`, 'ticket_field', p.body);
    }
    if (id !== undefined) customFields[p.spec.key] = id;
    steps.push({ ...p.step, ...(id !== undefined ? { id } : {}) });
  }

  for (const spec of viewSpecs(customFields)) {
    const { record, note } = ours(views, spec.title, (v) => v.title);
    const body = { title: spec.title, active: true, all: spec.all, any: spec.any, output: { columns: spec.columns } };
    const step: SetupStep = { kind: 'view', title: spec.title, action: 'create', ...(note ? { note } : {}) };
    if (record) {
      const changes = differences([
        ['active', record.active ?? true, true],
        ['all', conditionKey(record.conditions?.all), conditionKey(spec.all)],
        ['any', conditionKey(record.conditions?.any), conditionKey(spec.any)],
        ['columns', (record.execution?.columns ?? []).map((c) => c.id), spec.columns],
      ]);
      Object.assign(step, { id: record.id, action: changes.length > 0 ? 'update' : 'up to date' });
      if (changes.length > 0) step.changes = changes;
    }
    if (!dryRun && step.action === 'create') step.id = (await client.create<ZdView>('/api/v2/views', 'view', body)).id;
    if (!dryRun && step.action === 'update') await client.update(`/api/v2/views/${step.id}`, 'view', body);
    steps.push(step);
  }

  const hookBody = webhookSpec(opts.webhookEndpoint);
  const hook = ours(webhooks, WEBHOOK_NAME, (w) => w.name);
  const hookStep: SetupStep = { kind: 'webhook', title: WEBHOOK_NAME, action: 'create' };
  if (hook.note) hookStep.note = hook.note;
  if (hook.record) {
    const w = hook.record;
    if (!isDeepStrictEqual(w.subscriptions ?? [], hookBody.subscriptions)) {
      // Zendesk cannot change a webhook's connection method: a webhook of that name subscribed to events is not ours.
      throw new SetupConflictError(
        `webhook "${WEBHOOK_NAME}" (${w.id}) subscribes to Zendesk events, not triggers: rename or delete it`,
      );
    }
    const changes = differences([
      ['endpoint', w.endpoint, hookBody.endpoint],
      ['status', w.status, hookBody.status],
      ['http_method', w.http_method, hookBody.http_method],
      ['request_format', w.request_format, hookBody.request_format],
    ]);
    Object.assign(hookStep, { id: w.id, action: changes.length > 0 ? 'update' : 'up to date' });
    if (changes.length > 0) hookStep.changes = changes;
  }
  if (!dryRun && hookStep.action === 'create')
    hookStep.id = (await client.create<ZdWebhook>('/api/v2/webhooks', 'webhook', hookBody)).id;
  if (!dryRun && hookStep.action === 'update')
    await client.update(`/api/v2/webhooks/${hookStep.id}`, 'webhook', hookBody);
  steps.push(hookStep);
  const webhookId = hookStep.id as string | undefined;

  const want = triggerSpec(webhookId ?? '(the new webhook)');
  const trig = ours(triggers, TRIGGER_TITLE, (t) => t.title);
  const trigStep: SetupStep = { kind: 'trigger', title: TRIGGER_TITLE, action: 'create' };
  if (trig.note) trigStep.note = trig.note;
  if (trig.record) {
    const t = trig.record;
    const changes = differences([
      ['active', t.active ?? true, true],
      ['conditions.all', conditionKey(t.conditions?.all), conditionKey(want.conditions.all)],
      ['conditions.any', conditionKey(t.conditions?.any), conditionKey(want.conditions.any)],
      ['actions', t.actions ?? [], want.actions],
    ]);
    Object.assign(trigStep, { id: t.id, action: changes.length > 0 ? 'update' : 'up to date' });
    if (changes.length > 0) trigStep.changes = changes;
  }
  if (!dryRun && trigStep.action === 'create')
    trigStep.id = (await client.create<ZdTrigger>('/api/v2/triggers', 'trigger', want)).id;
  if (!dryRun && trigStep.action === 'update') await client.update(`/api/v2/triggers/${trigStep.id}`, 'trigger', want);
  steps.push(trigStep);

  const signingSecret = !dryRun && webhookId ? await client.signingSecret(webhookId) : undefined;
  return {
    steps,
    customFields,
    ...(webhookId ? { webhookId } : {}),
    ...(signingSecret ? { signingSecret } : {}),
    tags: SETUP_TAGS,
  };
}

function planField(spec: FieldSpec, fields: ZdField[]) {
  const { record, note } = ours(fields, spec.title, (f) => f.title);
  const body = { type: spec.type, title: spec.title, description: spec.description, active: true };
  const step: SetupStep = { kind: 'ticket field', title: spec.title, action: 'create', ...(note ? { note } : {}) };
  if (!record) return { spec, step, body };
  step.id = record.id;
  if (record.type !== spec.type) {
    return {
      spec,
      step,
      body,
      conflict: `ticket field "${spec.title}" (${record.id}) is a ${record.type} field, the bot writes a ${spec.type}: rename or delete it, then run setup again`,
    };
  }
  const changes = differences([
    ['description', record.description ?? '', spec.description],
    ['active', record.active ?? true, true],
  ]);
  step.action = changes.length > 0 ? 'update' : 'up to date';
  if (changes.length > 0) step.changes = changes;
  // the type never changes (Zendesk refuses): an update sends only what may change
  return { spec, step, body: { title: spec.title, description: spec.description, active: true } };
}
