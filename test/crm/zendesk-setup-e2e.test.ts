import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createCrm, type Crm } from '../../src/crm/index.js';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps } from '../../src/dialog/scripted.js';
import { createWebServer } from '../../src/web/server.js';
import { registerCrmWebhooks, type CallbackRequest } from '../../src/web/webhooks/index.js';
import { runSimulatedCall } from '../../src/telephony/simulate/driver.js';
import { SimulatedCallLeg } from '../../src/telephony/simulate/simulated-leg.js';
import { runCli } from '../helpers/cli.js';
import { startZendeskEmulator, type ZendeskEmulator } from '../emulators/zendesk/server.js';
import { captureLogger, tempDir, waitFor } from './helpers.js';

const tone = (ms: number) =>
  Int16Array.from({ length: (8000 * ms) / 1000 }, (_, i) =>
    Math.round(6000 * Math.sin((2 * Math.PI * 250 * i) / 8000)),
  );

/**
 * From an empty Zendesk account to a callback: `voicebot zendesk setup` (the real CLI) prepares the emulator, a bot
 * call files a ticket carrying the created fields, and an agent tagging it `callback` makes the trigger call the
 * bot's webhook, signed with the secret setup saved — which the bot verifies.
 */
describe('zendesk setup end to end', () => {
  let emu: ZendeskEmulator | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let crm: Crm | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    await crm?.close();
    for (const c of closers.splice(0)) await c();
    await emu?.close();
    tmp?.cleanup();
  });

  it('setup → bot call → ticket with the field ids → callback tag → signed webhook the bot accepts', async () => {
    emu = await startZendeskEmulator({ token: 'admin-tok-3141', maxPageSize: 3 });
    tmp = tempDir();
    const { logger, lines } = captureLogger();
    const web = await createWebServer({ logger, metrics: createMetrics(false) });
    closers.push(() => web.close());
    const callbacks: CallbackRequest[] = [];
    const saved = { secret: 'not yet' };
    // The bot's route. Its secret (crm.zendeskWebhookSecret) exists only once setup has run, and setup needs the
    // route's URL first: the route reads the secret when a request comes.
    await registerCrmWebhooks(web, {
      secret: { reveal: () => saved.secret } as never,
      logger,
      metrics: createMetrics(false),
      requestCallback: async (req) => void callbacks.push(req),
    });
    const botUrl = await web.listen({ host: '127.0.0.1', port: 0 });

    const configFile = join(tmp.dir, 'voicebot.yaml');
    const secretFile = join(tmp.dir, 'zendesk.env');
    writeFileSync(
      configFile,
      `crm:\n  sinks:\n    - type: zendesk\n      baseUrl: ${emu.url}\n      email: ${emu.email}\n      apiToken: \${ZENDESK_TOKEN}\n` +
        `  outbox:\n    dir: ${join(tmp.dir, 'outbox')}\n    baseDelayMs: 20\n    maxDelayMs: 100\n`,
    );
    const env = { ZENDESK_TOKEN: emu.token, ZENDESK_ADMIN_TOKEN: emu.token };
    const args = ['zendesk', 'setup', '--config', configFile, '--bot-url', botUrl, '--write-config'];
    const run = await runCli([...args, '--secret-file', secretFile], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('11 to create');
    expect(run.stdout + run.stderr).not.toContain(emu.token);
    const secret = /^ZENDESK_WEBHOOK_SECRET=(.+)$/m.exec(readFileSync(secretFile, 'utf8'))![1]!;
    saved.secret = secret;

    // The bot starts on the written config: the field ids and the secret reference are in it.
    const config = loadConfig({ file: configFile, env: { ...env, ZENDESK_WEBHOOK_SECRET: secret } });
    expect(config.crm.zendeskWebhookSecret?.reveal()).toBe(secret);
    const ids = (config.crm.sinks[0] as { customFields: Record<string, number> }).customFields;
    expect(Object.keys(ids).sort()).toEqual([
      'callId',
      'durationSec',
      'escalated',
      'intent',
      'nluConfidence',
      'outcome',
    ]);

    crm = await createCrm(config, logger, createMetrics(false), createTestDeps().events);
    const deps = createTestDeps({ asrScript: ['I want to talk to a person'], records: crm });
    const leg = new SimulatedCallLeg({ from: '+15551234567' });
    const { record } = await runSimulatedCall({
      leg,
      events: deps.events,
      turns: [{ pcm8k: tone(900), label: 'agent please' }],
      run: (l, signal) => runCall(l, deps, signal),
    });
    await crm.outbox.drained(AbortSignal.timeout(10_000));
    expect(emu.tickets.size).toBe(1);
    const ticket = [...emu.tickets.values()][0]!;
    const value = (key: string) => ticket.custom_fields.find((f) => f.id === ids[key])?.value;
    expect(value('callId')).toBe(record.callId);
    expect(value('outcome')).toBe(record.outcome);
    expect(value('escalated')).toBe(record.escalation !== undefined);
    expect(value('durationSec')).toBe(Math.round(record.durationMs / 1000));
    expect(ticket.custom_fields.every((f) => Object.values(ids).includes(f.id))).toBe(true);
    expect(emu.admin.webhookCalls).toHaveLength(0); // not tagged callback: the trigger stays quiet

    // An agent asks for a callback: the trigger fires once, the bot verifies the signature and dials.
    const put = await fetch(`${emu.url}/api/v2/tickets/${ticket.id}.json`, {
      method: 'PUT',
      headers: {
        authorization: `Basic ${Buffer.from(`${emu.email}/token:${emu.token}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ticket: { additional_tags: ['callback'] } }),
    });
    expect(put.status).toBe(200);
    await waitFor(() => emu!.admin.webhookCalls.length === 1, 5000, 'webhook call');
    await emu.admin.settled();
    expect(emu.admin.webhookCalls[0]!.status).toBe(202);
    await waitFor(() => callbacks.length === 1, 5000, 'callback request');
    expect(callbacks[0]).toEqual({ phone: '+15551234567', ticketId: String(ticket.id) });
    expect(ticket.tags).toContain('voicebot_callback_sent');
    expect(lines.some((l) => l.msg === 'zendesk webhook rejected')).toBe(false);

    // Another update does not fire it again (the trigger's own tag), and a second setup run changes nothing.
    await fetch(`${emu.url}/api/v2/tickets/${ticket.id}.json`, {
      method: 'PUT',
      headers: {
        authorization: `Basic ${Buffer.from(`${emu.email}/token:${emu.token}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ticket: { comment: { body: 'called back', public: false } } }),
    });
    const again = await runCli([...args, '--secret-file', secretFile], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 to create, 0 to update, 11 up to date');
    await emu.admin.settled();
    expect(emu.admin.webhookCalls).toHaveLength(1);
  }, 60_000);
});
