import { CALLBACK_TAG } from '../../web/webhooks/zendesk.js';
import { LOW_CONFIDENCE_TAG } from '../sinks/zendesk.js';

/**
 * What a Zendesk account needs for the bot, as Zendesk API bodies: the ticket fields the sink writes, three views
 * over the tags it sets, and the webhook + trigger that send `callback`-tagged tickets to the bot. Titles are how
 * `voicebot zendesk setup` finds its own records again, so they are fixed.
 */
export interface FieldSpec {
  /** the CallRecord field (crm.sinks[type=zendesk].customFields key) */
  key: string;
  title: string;
  type: 'text' | 'decimal' | 'integer' | 'checkbox';
  description: string;
}

export const FIELD_SPECS: readonly FieldSpec[] = [
  { key: 'intent', title: 'Voicebot: intent', type: 'text', description: "The call's main intent." },
  { key: 'nluConfidence', title: 'Voicebot: confidence', type: 'decimal', description: 'How sure the bot was, 0–1.' },
  {
    key: 'callId',
    title: 'Voicebot: call id',
    type: 'text',
    description: 'The call; the sidebar app finds it by this.',
  },
  { key: 'outcome', title: 'Voicebot: outcome', type: 'text', description: 'resolved, escalated, transfer-failed…' },
  { key: 'durationSec', title: 'Voicebot: duration (s)', type: 'integer', description: 'Call length in seconds.' },
  { key: 'escalated', title: 'Voicebot: escalated', type: 'checkbox', description: 'Handed to a person.' },
];

export interface Condition {
  field: string;
  operator: string;
  value: string;
}
export interface ViewSpec {
  title: string;
  all: Condition[];
  any: Condition[];
  /** system columns and custom field ids */
  columns: Array<string | number>;
}

/** The tag the callback trigger adds, so one request fires once (remove it to ask again). */
export const CALLBACK_SENT_TAG = 'voicebot_callback_sent';
export const BOT_TAG = 'voicebot';
export const ESCALATED_TAG = 'escalated';
/** Every tag the views and the trigger key on (Zendesk has no tag list to create: tags exist once used). */
export const SETUP_TAGS = [BOT_TAG, ESCALATED_TAG, LOW_CONFIDENCE_TAG, CALLBACK_TAG, CALLBACK_SENT_TAG];

const open: Condition = { field: 'status', operator: 'less_than', value: 'solved' };
const tagged = (tag: string): Condition => ({ field: 'current_tags', operator: 'includes', value: tag });

/** `ids`: CallRecord field → ticket field id (a field not created yet is left out of the columns). */
export function viewSpecs(ids: Record<string, number | undefined>): ViewSpec[] {
  const columns = (...keys: string[]) => [
    'status',
    'subject',
    'requester',
    'created',
    ...keys.map((k) => ids[k]).filter((id): id is number => id !== undefined),
  ];
  return [
    {
      title: 'Voicebot: escalated calls',
      all: [open, tagged(BOT_TAG), tagged(ESCALATED_TAG)],
      any: [],
      columns: columns('intent', 'outcome'),
    },
    {
      title: 'Voicebot: needs review — low confidence',
      all: [open, tagged(LOW_CONFIDENCE_TAG)],
      any: [],
      columns: columns('intent', 'nluConfidence'),
    },
    {
      title: 'Voicebot: callbacks requested',
      all: [open, tagged(CALLBACK_TAG)],
      any: [],
      columns: columns('intent'),
    },
  ];
}

export const WEBHOOK_NAME = 'Voicebot callbacks';
export const TRIGGER_TITLE = 'Voicebot: call back requested';

export function webhookSpec(endpoint: string) {
  return {
    name: WEBHOOK_NAME,
    description: 'Tickets tagged callback: the bot calls the requester back.',
    status: 'active',
    endpoint,
    http_method: 'POST',
    request_format: 'json',
    subscriptions: ['conditional_ticket_events'],
  };
}

/** The body the bot's webhook route reads (src/web/webhooks/zendesk.ts). */
export const CALLBACK_BODY = JSON.stringify({
  ticket_id: '{{ticket.id}}',
  tags: '{{ticket.tags}}',
  phone: '{{ticket.requester.phone}}',
});

export function triggerSpec(webhookId: string) {
  return {
    title: TRIGGER_TITLE,
    active: true,
    conditions: {
      all: [tagged(CALLBACK_TAG), { field: 'current_tags', operator: 'not_includes', value: CALLBACK_SENT_TAG }],
      any: [] as Condition[],
    },
    actions: [
      { field: 'notification_webhook', value: [webhookId, CALLBACK_BODY] },
      { field: 'current_tags', value: CALLBACK_SENT_TAG },
    ],
  };
}
