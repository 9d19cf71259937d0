import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Command } from 'commander';
import { isMap, isSeq, parseDocument } from 'yaml';
import { ConfigError, loadConfig } from '../config/load.js';
import { Secret } from '../config/secret.js';
import type { ZendeskSinkConfig } from '../crm/config.js';
import { DeliveryError } from '../crm/errors.js';
import { sinkNames } from '../crm/index.js';
import { ZendeskAdminClient } from '../crm/zendesk-setup/admin-client.js';
import { SetupConflictError, zendeskSetup, type SetupResult } from '../crm/zendesk-setup/setup.js';
import { ZENDESK_WEBHOOK_PATH } from '../web/webhooks/zendesk.js';
import { withConfigOption } from './common.js';

export interface ZendeskSetupOptions {
  config?: string;
  botUrl?: string;
  adminEmail?: string;
  sink?: string;
  dryRun?: boolean;
  writeConfig?: boolean;
  secretFile?: string;
  json?: boolean;
}
export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** The admin token comes from the environment only: a flag would show in `ps` and shell history. */
export const ADMIN_TOKEN_ENV = 'ZENDESK_ADMIN_TOKEN';
export const WEBHOOK_SECRET_ENV = 'ZENDESK_WEBHOOK_SECRET';

export function registerZendeskCommands(program: Command): void {
  const zendesk = program.command('zendesk').description('prepare a Zendesk account for the bot');
  withConfigOption(zendesk.command('setup'))
    .description(
      `create or update the ticket fields, views, webhook and trigger the bot needs (idempotent; admin token from $${ADMIN_TOKEN_ENV}, else the sink's apiToken)`,
    )
    .option('--bot-url <url>', 'public URL Zendesk reaches the bot at (default: web.publicUrl)')
    .option('--admin-email <email>', "the Zendesk admin the token belongs to (default: the sink's email)")
    .option('--sink <name>', 'which zendesk sink of the config (default: the first)')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--write-config', 'write the field ids (and the secret reference) into the --config file')
    .option('--secret-file <file>', `save the webhook signing secret as ${WEBHOOK_SECRET_ENV}=… (mode 0600)`)
    .option('--json', 'print the result as JSON (never the secret)')
    .action(async (opts: ZendeskSetupOptions) => {
      process.exitCode = await runZendeskSetup(opts, {
        env: process.env,
        out: (l) => console.log(l),
        err: (l) => console.error(l),
      });
    });
}

/** Returns the exit code: 0 done, 1 Zendesk refused or failed, 2 bad config or options. */
export async function runZendeskSetup(opts: ZendeskSetupOptions, io: CliIo): Promise<number> {
  const fail = (code: number, message: string) => (io.err(`voicebot zendesk setup: ${message}`), code);
  let config;
  try {
    config = loadConfig({ file: opts.config, env: withSavedSecret(io.env, opts.secretFile) });
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message);
    throw err;
  }
  const names = sinkNames(config.crm.sinks);
  const index = config.crm.sinks.findIndex(
    (s, i) => s.type === 'zendesk' && (opts.sink === undefined || names[i] === opts.sink),
  );
  if (index < 0) return fail(2, 'no zendesk sink in crm.sinks (voicebot init --crm zendesk writes one)');
  const sink = config.crm.sinks[index] as ZendeskSinkConfig;
  const botUrl = opts.botUrl ?? config.web.publicUrl;
  if (!botUrl) return fail(2, 'give --bot-url (or set web.publicUrl): Zendesk needs to reach the bot');
  let endpoint: string;
  try {
    endpoint = new URL(ZENDESK_WEBHOOK_PATH, botUrl).toString();
  } catch {
    return fail(2, `--bot-url is not a URL: ${botUrl}`);
  }
  if (opts.writeConfig && !opts.config) return fail(2, '--write-config needs --config FILE');
  const adminToken = io.env[ADMIN_TOKEN_ENV] ? new Secret(io.env[ADMIN_TOKEN_ENV]) : sink.apiToken;
  const client = new ZendeskAdminClient({
    baseUrl: sink.baseUrl,
    email: opts.adminEmail ?? sink.email,
    apiToken: adminToken,
    timeoutMs: sink.timeoutMs,
    signal: AbortSignal.timeout(5 * 60_000),
  });

  let result: SetupResult;
  try {
    result = await zendeskSetup({ client, webhookEndpoint: endpoint, dryRun: opts.dryRun ?? false });
  } catch (err) {
    if (err instanceof SetupConflictError) return fail(1, `${err.message} (nothing was changed)`);
    if (err instanceof DeliveryError && (err.status === 401 || err.status === 403)) {
      return fail(
        1,
        `Zendesk answered ${err.status}: the token must belong to an admin (set $${ADMIN_TOKEN_ENV} and --admin-email)`,
      );
    }
    return fail(1, (err as Error).message);
  }

  const extra: string[] = [];
  if (!opts.dryRun && opts.secretFile && result.signingSecret) {
    extra.push(writeSecretFile(opts.secretFile, result.signingSecret));
  }
  if (!opts.dryRun && opts.writeConfig && opts.config) {
    extra.push(writeConfig(opts.config, index, result.customFields, opts.secretFile !== undefined));
  }
  if (opts.json) {
    const { signingSecret: _secret, ...shown } = result;
    io.out(JSON.stringify({ dryRun: opts.dryRun ?? false, ...shown, files: extra }, null, 2));
    return 0;
  }
  io.out(`Zendesk setup for ${new URL(sink.baseUrl).origin}${opts.dryRun ? ' (dry run: nothing changed)' : ''}`);
  for (const s of result.steps) {
    const id = s.id !== undefined ? ` (${s.id})` : '';
    const changes = s.changes ? `: ${s.changes.join(', ')}` : '';
    io.out(`  ${s.action.padEnd(10)}  ${s.kind.padEnd(12)}  ${s.title}${id}${changes}${s.note ? ` — ${s.note}` : ''}`);
  }
  io.out(`webhook endpoint: ${endpoint}`);
  io.out(`tags the views and trigger use (the bot sets them; Zendesk needs nothing): ${result.tags.join(', ')}`);
  io.out(`crm.sinks[${index}].customFields:`);
  for (const [k, v] of Object.entries(result.customFields)) io.out(`  ${k}: ${v}`);
  if (opts.dryRun) io.out('  (fields to create get their ids on a real run)');
  else if (!opts.secretFile)
    io.out(
      `signing secret: not shown. Save it with --secret-file FILE, or reveal it in Admin Center → Webhooks → "${result.steps.find((s) => s.kind === 'webhook')?.title}"; the bot reads it from crm.zendeskWebhookSecret.`,
    );
  for (const line of extra) io.out(line);
  const count = (a: string) => result.steps.filter((s) => s.action === a).length;
  io.out(
    `${count('create')} to create, ${count('update')} to update, ${count('up to date')} up to date${opts.dryRun ? ' (dry run)' : ''}`,
  );
  return 0;
}

/** A config this command wrote refers to ${ZENDESK_WEBHOOK_SECRET}: a rerun reads it from --secret-file if unset. */
function withSavedSecret(env: NodeJS.ProcessEnv, file: string | undefined): NodeJS.ProcessEnv {
  if (env[WEBHOOK_SECRET_ENV] || !file || !existsSync(file)) return env;
  const saved = new RegExp(`^${WEBHOOK_SECRET_ENV}=(.+)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1];
  return saved ? { ...env, [WEBHOOK_SECRET_ENV]: saved } : env;
}

/** KEY=VALUE for an env file; rewritten only when it changed, readable by its owner only. */
function writeSecretFile(file: string, secret: string): string {
  const content = `${WEBHOOK_SECRET_ENV}=${secret}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return `secret file: ${file} up to date`;
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
  return `secret file: wrote ${WEBHOOK_SECRET_ENV} to ${file} (export it before voicebot start)`;
}

/** Field ids into the sink's customFields (others kept), and `${ZENDESK_WEBHOOK_SECRET}` as the secret if unset. */
function writeConfig(file: string, index: number, ids: Record<string, number>, secretRef: boolean): string {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const sinks = doc.getIn(['crm', 'sinks'], true);
  const sink = isSeq(sinks) ? sinks.items[index] : undefined;
  if (!isMap(sink)) return `config: ${file} has no crm.sinks[${index}] to write to (values above)`;
  const current = (
    doc.getIn(['crm', 'sinks', index, 'customFields']) as { toJSON?: () => unknown } | undefined
  )?.toJSON?.() as Record<string, number> | undefined;
  const merged = { ...current, ...ids };
  const addSecret = secretRef && !doc.hasIn(['crm', 'zendeskWebhookSecret']);
  // compared as values, not text: a file already holding these ids is left exactly as it is
  if (isDeepStrictEqual(current, merged) && !addSecret) return `config: ${file} up to date`;
  doc.setIn(['crm', 'sinks', index, 'customFields'], doc.createNode(merged));
  if (addSecret) doc.setIn(['crm', 'zendeskWebhookSecret'], `\${${WEBHOOK_SECRET_ENV}}`);
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
  return `config: wrote the field ids to ${file}`;
}
