import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileOutbox } from '../../src/crm/outbox/file-outbox.js';
import { jobFor } from '../../src/crm/sink.js';
import { runCli } from '../helpers/cli.js';
import { captureLogger, makeRecord, tempDir } from './helpers.js';

describe('voicebot outbox list|retry', () => {
  let tmp: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  beforeEach(async () => {
    tmp = tempDir();
    env = { VOICEBOT_CRM__OUTBOX__DIR: tmp.dir };
    const box = await FileOutbox.open({ dir: tmp.dir, concurrency: 1 }, undefined, captureLogger().logger);
    await box.enqueue(jobFor('zendesk', 'end', makeRecord({ callId: 'c1' })));
    await box.enqueue(jobFor('zendesk', 'end', makeRecord({ callId: 'c2' })));
    await box.close();
    appendFileSync(
      join(tmp.dir, 'journal.jsonl'),
      `${JSON.stringify({ op: 'dead', id: 'zendesk-c1-end', error: 'POST /api/v2/tickets.json → 401' })}\n`,
    );
  });
  afterEach(() => tmp.cleanup());

  it('lists pending and dead jobs, then retries the dead one', async () => {
    const list = await runCli(['outbox', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/dead\s+zendesk-c1-end\s+attempts=0\s+— POST \/api\/v2\/tickets.json → 401/);
    expect(list.stdout).toMatch(/pending\s+zendesk-c2-end/);
    expect(list.stdout).toContain('2 job(s), 1 dead');

    const retry = await runCli(['outbox', 'retry', 'zendesk-c1-end'], env);
    expect(retry.stdout).toContain('queued 1 job(s) again');
    const json = JSON.parse((await runCli(['outbox', 'list', '--json'], env)).stdout) as Array<{
      id: string;
      status: string;
    }>;
    expect(json.map((e) => e.status)).toEqual(['pending', 'pending']);
    expect((await runCli(['outbox', 'retry'], env)).stdout).toContain('no dead letter matches every dead letter');
  }, 60_000);

  it('leaves a request for a running bot instead of touching its journal', async () => {
    writeFileSync(join(tmp.dir, 'outbox.lock'), String(process.pid));
    const retry = await runCli(['outbox', 'retry'], env);
    expect(retry.stdout).toContain(`asked the running bot (pid ${process.pid}) to retry every dead letter`);
    expect(readFileSync(join(tmp.dir, 'requests.jsonl'), 'utf8')).toBe('{"retry":null}\n');
  }, 60_000);
});
