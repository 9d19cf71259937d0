import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/core/metrics.js';
import { crmMetrics, Deliverer } from '../../src/crm/delivery.js';
import { DeliveryError } from '../../src/crm/errors.js';
import { FileOutbox, REQUESTS, readOutbox } from '../../src/crm/outbox/file-outbox.js';
import { jobFor, type DeliveryJob, type TicketSink } from '../../src/crm/sink.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger, makeRecord, tempDir, waitFor } from './helpers.js';

/** A sink whose behaviour each test scripts. */
class ScriptedSink implements TicketSink {
  readonly type = 'test';
  readonly calls: string[] = [];
  constructor(
    readonly name: string,
    public behave: (job: DeliveryJob, attempt: number) => Promise<void> | void = () => undefined,
  ) {}
  async deliver(job: DeliveryJob, ctx: { attempt: number }) {
    this.calls.push(`${job.id}#${ctx.attempt}`);
    await this.behave(job, ctx.attempt);
    return {};
  }
}

describe('FileOutbox', () => {
  let tmp: ReturnType<typeof tempDir>;
  let box: FileOutbox | undefined;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    await box?.close();
    box = undefined;
    tmp.cleanup();
  });

  const open = async (sink: TicketSink, extra: Partial<Parameters<typeof FileOutbox.open>[0]> = {}) => {
    const { logger, lines } = captureLogger();
    const deliverer = new Deliverer(
      [sink],
      { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50, attemptTimeoutMs: 2000 },
      logger,
      crmMetrics(createMetrics(false)),
    );
    box = await FileOutbox.open({ dir: tmp.dir, concurrency: 4, controlPollMs: 20, ...extra }, deliverer, logger);
    return { box, lines };
  };

  it('delivers the jobs of one call in order, even when the first one has to retry', async () => {
    const sink = new ScriptedSink('s', (job, attempt) => {
      if (job.event === 'escalation' && attempt < 3) throw new DeliveryError('503', true, 503);
    });
    const { box } = await open(sink);
    box.start();
    await box.enqueue(jobFor('s', 'escalation', makeRecord()));
    await box.enqueue(jobFor('s', 'end', makeRecord()));
    await box.drained(AbortSignal.timeout(3000));
    expect(sink.calls).toEqual([
      's-call-1-escalation#1',
      's-call-1-escalation#2',
      's-call-1-escalation#3',
      's-call-1-end#1',
    ]);
  });

  it('keeps jobs across a reopen: nothing delivered before start is lost, enqueue is idempotent', async () => {
    const sink = new ScriptedSink('s');
    let { box: b } = await open(sink);
    await b.enqueue(jobFor('s', 'end', makeRecord({ callId: 'a' })));
    await b.enqueue(jobFor('s', 'end', makeRecord({ callId: 'a' })));
    await b.enqueue(jobFor('s', 'end', makeRecord({ callId: 'b' })));
    await b.close();
    ({ box: b } = await open(sink));
    expect((await b.list()).map((e) => e.id).sort()).toEqual(['s-a-end', 's-b-end']);
    b.start();
    await b.drained(AbortSignal.timeout(3000));
    expect(sink.calls.sort()).toEqual(['s-a-end#1', 's-b-end#1']);
  });

  it('counts attempts across restarts and dead-letters after maxAttempts; retry revives it', async () => {
    const sink = new ScriptedSink('s', () => {
      throw new DeliveryError('500', true, 500);
    });
    const first = await open(sink);
    const lines = first.lines;
    let b = first.box;
    b.start();
    await b.enqueue(jobFor('s', 'end', makeRecord()));
    await b.drained(AbortSignal.timeout(3000));
    const [dead] = await b.list();
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, lastError: '500' });
    expect(lines.filter((l) => l.msg === 'crm delivery failed, will retry')).toHaveLength(2);
    await b.close();

    // the CLI view reads the journal without the lock
    expect(readOutbox(tmp.dir).map((e) => e.status)).toEqual(['dead']);
    sink.behave = () => undefined;
    ({ box: b } = await open(sink));
    b.start();
    expect(await b.retry('s-call-1-end')).toBe(1);
    await b.drained(AbortSignal.timeout(3000));
    expect(await b.list()).toEqual([]);
    // a fresh budget, but the sink is told it is the 4th attempt ever: one of the earlier three may have landed
    expect(sink.calls.at(-1)).toBe('s-call-1-end#4');
  });

  it('waits out a retry on its clock: nothing is retried before the delay, the retry runs once it passes', async () => {
    const clock = new FakeClock(() => 0, Date.parse('2026-01-01T00:00:00Z'));
    const sink = new ScriptedSink('s', (_job, attempt) => {
      if (attempt === 1) throw new DeliveryError('429 slow down', true, 429, 60_000);
    });
    const { box: b } = await open(sink, { clock });
    b.start();
    await b.enqueue(jobFor('s', 'end', makeRecord()));
    // the failed attempt is journalled, then the outbox arms its retry timer next to the control poll's
    await waitFor(
      async () => (await b.list())[0]?.lastError === '429 slow down' && clock.pending === 2,
      3000,
      'first attempt failed and its retry armed',
    );
    const [waiting] = await b.list();
    // Retry-After 60 s plus under 10 ms of jitter (baseDelayMs 10), counted from the fake clock's now
    expect(waiting!.nextAt! - clock.now()).toBeGreaterThanOrEqual(60_000);
    expect(waiting!.nextAt! - clock.now()).toBeLessThan(60_010);
    clock.advance(59_999); // timers due by now fire inside advance(): the retry's is not among them
    expect(clock.pending).toBe(2); // the retry and the control poll, both still armed: no retry yet
    expect(sink.calls).toEqual(['s-call-1-end#1']);
    clock.advance(20);
    await b.drained(AbortSignal.timeout(3000));
    expect(sink.calls).toEqual(['s-call-1-end#1', 's-call-1-end#2']);
  });

  it('picks up a retry request the CLI leaves while the bot holds the lock', async () => {
    const sink = new ScriptedSink('s', () => {
      throw new DeliveryError('400 bad', false, 400);
    });
    const { box: b } = await open(sink);
    b.start();
    await b.enqueue(jobFor('s', 'end', makeRecord()));
    await b.drained(AbortSignal.timeout(3000));
    expect((await b.list())[0]!.status).toBe('dead');
    sink.behave = () => undefined;
    appendFileSync(join(tmp.dir, REQUESTS), `${JSON.stringify({ retry: null })}\n`);
    await waitFor(async () => (await b.list()).length === 0, 3000, 'revived job delivered');
  });

  it('refuses a second process on the same dir, but takes over a lock left by a dead one', async () => {
    const sink = new ScriptedSink('s');
    await open(sink);
    writeFileSync(join(tmp.dir, 'outbox.lock'), '1'); // pid 1 is alive (init)
    const { logger } = captureLogger();
    await expect(FileOutbox.open({ dir: tmp.dir, concurrency: 1 }, undefined, logger)).rejects.toThrow(
      /in use by process 1/,
    );
    writeFileSync(join(tmp.dir, 'outbox.lock'), '999999999');
    const other = await FileOutbox.open({ dir: tmp.dir, concurrency: 1 }, undefined, logger);
    await other.close();
  });

  it('survives a torn last line and compacts the journal to the live jobs', async () => {
    const sink = new ScriptedSink('s');
    let { box: b } = await open(sink, { compactEvery: 20 });
    b.start();
    for (let i = 0; i < 30; i++) await b.enqueue(jobFor('s', 'end', makeRecord({ callId: `c${i}` })));
    await b.drained(AbortSignal.timeout(3000));
    await b.close();
    const journal = join(tmp.dir, 'journal.jsonl');
    const linesAfter = readFileSync(journal, 'utf8').split('\n').filter(Boolean).length;
    expect(linesAfter).toBeLessThan(90); // 30 × (enqueue + attempt + done) without compaction
    appendFileSync(journal, '{"op":"enqueue","job":{"id":"torn'); // kill -9 mid-write
    const { box: again, lines } = await open(sink);
    b = again;
    expect(await b.list()).toEqual([]);
    expect(lines.some((l) => l.msg === 'crm outbox: skipped torn journal line(s) from a crash')).toBe(true);
  });
});
