import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runZendeskSetup, type ZendeskSetupOptions } from '../../src/cli/zendesk.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { tempDir } from './helpers.js';

/** `voicebot zendesk setup` against the emulator's admin API (ticket fields, views, webhooks, triggers). */
let emu: ZendeskEmulator;
let tmp: ReturnType<typeof tempDir>;
let configFile: string;
const ADMIN = 'admin-token-5f1e9c';

beforeEach(async () => {
  // pages of 2: the account's records span several pages, as a real account's 100-record pages do
  emu = await startZendeskEmulator({ token: ADMIN, maxPageSize: 2 });
  tmp = tempDir();
  configFile = join(tmp.dir, 'voicebot.yaml');
  writeFileSync(
    configFile,
    [
      '# my bot',
      'crm:',
      '  sinks:',
      '    - type: zendesk',
      `      baseUrl: ${emu.url}`,
      `      email: ${emu.email}`,
      '      apiToken: ${ZENDESK_TOKEN} # the bot token',
      '      customFields:',
      '        slots.order_number: 42',
      '',
    ].join('\n'),
  );
});
afterEach(async () => {
  await emu.close();
  tmp.cleanup();
});

const setup = async (opts: Partial<ZendeskSetupOptions> = {}, env: NodeJS.ProcessEnv = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runZendeskSetup(
    { config: configFile, botUrl: 'https://bot.example.com', ...opts },
    {
      env: { ZENDESK_TOKEN: 'bot-token-not-admin', ZENDESK_ADMIN_TOKEN: ADMIN, ...env },
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
};
/** requests that change the account (POST/PUT answered 2xx) */
const writes = () => [...emu.stats].filter(([k]) => /^(POST|PUT) \S+ 2\d\d$/.test(k)).reduce((n, [, v]) => n + v, 0);

describe('voicebot zendesk setup', () => {
  it('--dry-run prints the whole plan and changes nothing', async () => {
    const r = await setup({ dryRun: true });
    expect(r.code).toBe(0);
    expect(r.out).toContain('(dry run: nothing changed)');
    for (const title of [
      'Voicebot: intent',
      'Voicebot: confidence',
      'Voicebot: call id',
      'Voicebot: outcome',
      'Voicebot: duration (s)',
      'Voicebot: escalated',
      'Voicebot: escalated calls',
      'Voicebot: needs review — low confidence',
      'Voicebot: callbacks requested',
      'Voicebot callbacks',
      'Voicebot: call back requested',
    ])
      expect(r.out).toMatch(new RegExp(`create +[a-z ]+ +${title.replace(/[()]/g, '\\$&')}`));
    expect(r.out).toContain('11 to create, 0 to update, 0 up to date (dry run)');
    expect(writes()).toBe(0);
    expect(emu.admin.views.size + emu.admin.triggers.size + emu.admin.webhooks.size).toBe(0);
  });

  it('creates fields, views, webhook and trigger; writes the ids; a second run changes nothing', async () => {
    const secretFile = join(tmp.dir, 'zendesk.env');
    const first = await setup({ writeConfig: true, secretFile });
    expect(first.code).toBe(0);
    expect(first.out).toContain('11 to create, 0 to update, 0 up to date');

    const byTitle = new Map([...emu.admin.fields.values()].map((f) => [f.title, f]));
    const ids = {
      intent: byTitle.get('Voicebot: intent')!.id,
      nluConfidence: byTitle.get('Voicebot: confidence')!.id,
      callId: byTitle.get('Voicebot: call id')!.id,
      outcome: byTitle.get('Voicebot: outcome')!.id,
      durationSec: byTitle.get('Voicebot: duration (s)')!.id,
      escalated: byTitle.get('Voicebot: escalated')!.id,
    };
    expect([...Object.values(ids)].map((id) => emu.admin.fields.get(id)!.type)).toEqual([
      'text',
      'decimal',
      'text',
      'text',
      'integer',
      'checkbox',
    ]);
    // the ids reach the sink's config (the hand-written slot mapping and the comments stay)
    const yaml = readFileSync(configFile, 'utf8');
    expect(yaml).toContain('# my bot');
    expect(yaml).toContain('# the bot token');
    expect(yaml).toContain('slots.order_number: 42');
    for (const [key, id] of Object.entries(ids)) expect(yaml).toContain(`${key}: ${id}`);
    expect(yaml).toContain('zendeskWebhookSecret: ${ZENDESK_WEBHOOK_SECRET}');

    const views = [...emu.admin.views.values()];
    expect(views.map((v) => v.title).sort()).toEqual([
      'Voicebot: callbacks requested',
      'Voicebot: escalated calls',
      'Voicebot: needs review — low confidence',
    ]);
    const review = views.find((v) => v.title.includes('low confidence'))!;
    expect(review.conditions.all).toContainEqual({
      field: 'current_tags',
      operator: 'includes',
      value: 'voicebot_low_confidence',
    });
    expect(review.execution.columns.map((c) => c.id)).toContain(ids.nluConfidence);

    const [hook] = [...emu.admin.webhooks.values()];
    expect(hook).toMatchObject({
      endpoint: 'https://bot.example.com/api/webhooks/zendesk',
      http_method: 'POST',
      request_format: 'json',
      status: 'active',
      subscriptions: ['conditional_ticket_events'],
    });
    const [trigger] = [...emu.admin.triggers.values()];
    expect(trigger!.conditions.all).toContainEqual({ field: 'current_tags', operator: 'includes', value: 'callback' });
    expect(trigger!.actions[0]).toEqual({
      field: 'notification_webhook',
      value: [hook!.id, '{"ticket_id":"{{ticket.id}}","tags":"{{ticket.tags}}","phone":"{{ticket.requester.phone}}"}'],
    });
    // the signing secret is Zendesk's, saved for the bot, readable by its owner only
    expect(readFileSync(secretFile, 'utf8')).toBe(`ZENDESK_WEBHOOK_SECRET=${hook!.secret}\n`);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(first.out).not.toContain(hook!.secret);

    const writesAfterFirst = writes();
    expect(writesAfterFirst).toBe(11);
    const configBefore = readFileSync(configFile, 'utf8');
    const secretMtime = statSync(secretFile).mtimeMs;
    const second = await setup({ writeConfig: true, secretFile });
    expect(second.code).toBe(0);
    expect(second.out).toContain('0 to create, 0 to update, 11 up to date');
    expect(second.out).not.toMatch(/^ {2}(create|update) /m);
    expect(writes()).toBe(writesAfterFirst);
    expect(readFileSync(configFile, 'utf8')).toBe(configBefore);
    expect(statSync(secretFile).mtimeMs).toBe(secretMtime);
    expect(second.out).toContain('up to date');
  });

  it('finds its records on later pages among the account’s own, and repairs only what drifted', async () => {
    for (let i = 0; i < 7; i++)
      await post('/api/v2/ticket_fields', { ticket_field: { type: 'text', title: `Other ${i}` } });
    expect((await setup()).code).toBe(0);
    const view = [...emu.admin.views.values()].find((v) => v.title === 'Voicebot: callbacks requested')!;
    view.conditions.all = [{ field: 'status', operator: 'is', value: 'open' }]; // an admin edited it
    const hook = [...emu.admin.webhooks.values()][0]!;
    hook.endpoint = 'https://old.example.com/api/webhooks/zendesk';
    const before = writes();
    const r = await setup();
    expect(r.out).toMatch(/update +view +Voicebot: callbacks requested \(\d+\): all/);
    expect(r.out).toMatch(/update +webhook +Voicebot callbacks \(\w+\): endpoint/);
    expect(r.out).toContain('0 to create, 2 to update, 9 up to date');
    expect(writes()).toBe(before + 2);
    expect(emu.admin.fields.size).toBe(5 + 7 + 6); // system + others + ours: nothing created twice
    expect(emu.admin.views.get(view.id)!.conditions.all).toContainEqual({
      field: 'current_tags',
      operator: 'includes',
      value: 'callback',
    });
    expect(emu.admin.webhooks.get(hook.id)!.endpoint).toBe('https://bot.example.com/api/webhooks/zendesk');
  });

  it('a field of ours with another type stops the run before any change', async () => {
    await post('/api/v2/ticket_fields', { ticket_field: { type: 'text', title: 'Voicebot: duration (s)' } });
    const before = writes();
    const r = await setup();
    expect(r.code).toBe(1);
    expect(r.err).toContain('"Voicebot: duration (s)"');
    expect(r.err).toContain('nothing was changed');
    expect(writes()).toBe(before);
  });

  it('the admin token never appears in output, errors or the config file', async () => {
    const ok = await setup({ writeConfig: true, json: true });
    const denied = await setup({}, { ZENDESK_ADMIN_TOKEN: 'wrong-admin-token-77' });
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('401');
    const everything = [ok.out, ok.err, denied.out, denied.err, readFileSync(configFile, 'utf8')].join('\n');
    expect(everything).not.toContain(ADMIN);
    expect(everything).not.toContain('wrong-admin-token-77');
    expect(everything).not.toContain(Buffer.from(`${emu.email}/token:${ADMIN}`).toString('base64'));
    expect(JSON.parse(ok.out).customFields.intent).toBeTypeOf('number');
  });
});

describe('Zendesk emulator admin API: as strict as Zendesk', () => {
  it('refuses what Zendesk refuses', async () => {
    const view = await post('/api/v2/views', {
      view: { title: 'tags only', all: [{ field: 'current_tags', operator: 'includes', value: 'x' }] },
    });
    expect(view.status).toBe(422); // `all` must check status, type, group_id, assignee_id or requester_id
    await post('/api/v2/ticket_fields', { ticket_field: { type: 'checkbox', title: 'A', tag: 'vip' } });
    expect(
      (await post('/api/v2/ticket_fields', { ticket_field: { type: 'checkbox', title: 'B', tag: 'vip' } })).status,
    ).toBe(422);
    expect((await post('/api/v2/ticket_fields', { ticket_field: { title: 'no type', type: 'colour' } })).status).toBe(
      422,
    );
    const trigger = await post('/api/v2/triggers', {
      trigger: {
        title: 't',
        conditions: { all: [{ field: 'current_tags', operator: 'includes', value: 'x' }] },
        actions: [{ field: 'notification_webhook', value: ['01NOSUCHWEBHOOK', '{}'] }],
      },
    });
    expect(trigger.status).toBe(422);
    const events = await post('/api/v2/webhooks', {
      webhook: {
        name: 'w',
        endpoint: 'https://x.example.com/',
        http_method: 'POST',
        request_format: 'json',
        status: 'active',
        subscriptions: ['conditional_ticket_events', 'zen:event-type:user.created'],
      },
    });
    expect(events.status).toBe(400);
    const list = await fetch(`${emu.url}/api/v2/ticket_fields?page[size]=2`, { headers: { authorization: auth() } });
    const page = (await list.json()) as {
      ticket_fields: unknown[];
      meta: { has_more: boolean };
      links: { next: string };
    };
    expect(page.ticket_fields).toHaveLength(2);
    expect(page.meta.has_more).toBe(true);
    expect(page.links.next).toContain('page%5Bafter%5D');
  });
});

const auth = () => `Basic ${Buffer.from(`${emu.email}/token:${emu.token}`).toString('base64')}`;
async function post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${emu.url}${path}`, {
    method: 'POST',
    headers: { authorization: auth(), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
