import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfigOrExit, withConfigOption } from '../cli/common.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { openOutbox } from './index.js';
import { FileOutbox, REQUESTS, lockHolder, readOutbox } from './outbox/file-outbox.js';
import type { OutboxEntry } from './outbox/types.js';

/** `voicebot outbox list|retry`: inspect the CRM outbox and send dead letters back for delivery. */
export function registerOutboxCommands(program: Command): void {
  const outbox = program.command('outbox').description('inspect and retry CRM deliveries');

  withConfigOption(outbox.command('list'))
    .description('list CRM jobs waiting, in flight and dead-lettered')
    .option('--dead', 'only dead letters')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; dead?: boolean; json?: boolean }) => {
      const config = loadConfigOrExit(opts);
      let entries = await listEntries(config);
      if (opts.dead) entries = entries.filter((e) => e.status === 'dead');
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      if (entries.length === 0) {
        console.log('outbox is empty');
        return;
      }
      for (const e of entries) console.log(formatEntry(e));
      const dead = entries.filter((e) => e.status === 'dead').length;
      console.log(
        `${entries.length} job(s), ${dead} dead${dead > 0 ? ' — `voicebot outbox retry [id]` after fixing the cause' : ''}`,
      );
    });

  withConfigOption(outbox.command('retry'))
    .description('queue one dead-lettered job (or all of them) for delivery again')
    .argument('[id]', 'job id from `voicebot outbox list` (default: every dead letter)')
    .action(async (id: string | undefined, opts: { config?: string }) => {
      const config = loadConfigOrExit(opts);
      console.log(await retry(config, id));
    });
}

export function formatEntry(e: OutboxEntry): string {
  const next = e.nextAt ? ` next ${new Date(e.nextAt).toISOString()}` : '';
  const err = e.lastError ? `  — ${e.lastError}` : '';
  return `${e.status.padEnd(7)} ${e.id}  attempts=${e.attempts}${next}${err}`;
}

const quietLogger = (config: Config) => createLogger({ ...config.log, level: 'warn' });

async function listEntries(config: Config): Promise<OutboxEntry[]> {
  if (!config.redis) return readOutbox(resolve(config.crm.outbox.dir)); // read-only: fine while the bot runs
  const box = await openOutbox(config, undefined, quietLogger(config));
  try {
    return await box.list();
  } finally {
    await box.close();
  }
}

async function retry(config: Config, id: string | undefined): Promise<string> {
  const what = id ? `job ${id}` : 'every dead letter';
  if (config.redis) {
    const box = await openOutbox(config, undefined, quietLogger(config));
    try {
      const n = await box.retry(id);
      return n > 0 ? `queued ${n} job(s) again` : `no dead letter matches ${what}`;
    } finally {
      await box.close();
    }
  }
  const dir = resolve(config.crm.outbox.dir);
  const holder = lockHolder(dir);
  if (holder !== undefined) {
    // The running bot owns the journal: leave it a request; it looks every 2 s.
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, REQUESTS), `${JSON.stringify({ retry: id ?? null })}\n`);
    return `asked the running bot (pid ${holder}) to retry ${what}`;
  }
  const box = await FileOutbox.open({ dir, concurrency: 1 }, undefined, quietLogger(config));
  try {
    const n = await box.retry(id);
    return n > 0
      ? `queued ${n} job(s) again; they are delivered when the bot starts`
      : `no dead letter matches ${what}`;
  } finally {
    await box.close();
  }
}
