import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import type { Decision, Deliverer } from '../delivery.js';
import type { DeliveryJob, SinkState } from '../sink.js';
import { backgroundTimer, systemClock, type Clock } from '../../core/clock.js';
import { Waiters } from '../../core/waiters.js';
import { Journal } from './journal.js';
import { lockHolder, releaseLock, takeLock } from './lock.js';
import type { Outbox, OutboxEntry } from './types.js';

/** Journal records. Replay is idempotent, so a record repeated after a compaction does no harm. */
export type JournalRecord =
  | { op: 'enqueue'; job: DeliveryJob; attempts?: number; tried?: number; dead?: string }
  | { op: 'attempt'; id: string; n: number; total?: number }
  | { op: 'fail'; id: string; error: string }
  | { op: 'done'; id: string }
  | { op: 'dead'; id: string; error: string }
  | { op: 'revive'; id: string }
  | { op: 'state'; group: string; key: string; value: unknown; at: number };

interface Entry {
  job: DeliveryJob;
  /** attempts since enqueue or the last revival (the budget) */
  attempts: number;
  /** every attempt ever, revivals included (what the sink sees: an earlier one may have landed) */
  tried: number;
  nextAt: number;
  active: boolean;
  dead?: string;
  lastError?: string;
}

export interface FileOutboxOptions {
  dir: string;
  concurrency: number;
  /** Compact when this many records were appended since the last compaction. */
  compactEvery?: number;
  /** Per-call sink state older than this is dropped at compaction (calls do not last a day). */
  stateTtlMs?: number;
  /** How often to look for `voicebot outbox retry` requests from the CLI. */
  controlPollMs?: number;
  /** retry backoff, state ages and the control poll run on this clock (tests: a fake one) */
  clock?: Clock;
}

const JOURNAL = 'journal.jsonl';
export const REQUESTS = 'requests.jsonl';
export { lockHolder };

/**
 * The embedded outbox: an fsync'd journal of enqueue/attempt/done records in `dir`, replayed at open.
 * A job survives `kill -9` at any point; jobs of one group (sink + call) are delivered strictly in order.
 */
export class FileOutbox implements Outbox {
  readonly kind = 'file';
  readonly #entries = new Map<string, Entry>();
  /** pending job ids per group, oldest first (dead jobs leave the group so they do not block it) */
  readonly #groups = new Map<string, string[]>();
  readonly #state = new Map<string, { values: Record<string, unknown>; at: number }>();
  readonly #closing = new AbortController();
  readonly #drained = new Waiters();
  #journal!: Journal<JournalRecord>;
  readonly #idle = new Waiters();
  readonly #clock: Clock;
  #timer: unknown = undefined;
  #control: unknown = undefined;
  #inFlight = 0;
  #started = false;
  #compacting = false;

  private constructor(
    readonly opts: FileOutboxOptions,
    readonly deliverer: Deliverer | undefined,
    readonly logger: Logger,
  ) {
    this.#clock = opts.clock ?? systemClock;
  }

  /** Opens (and locks) the outbox dir; `deliverer` may be omitted by tools that only inspect or retry. */
  static async open(opts: FileOutboxOptions, deliverer: Deliverer | undefined, logger: Logger): Promise<FileOutbox> {
    mkdirSync(opts.dir, { recursive: true });
    const box = new FileOutbox(opts, deliverer, logger);
    takeLock(opts.dir);
    const path = join(opts.dir, JOURNAL);
    const { records, torn } = Journal.read<JournalRecord>(path);
    if (torn > 0) logger.warn({ torn }, 'crm outbox: skipped torn journal line(s) from a crash');
    for (const r of records) box.#apply(r);
    box.#journal = await Journal.open<JournalRecord>(path);
    await box.#compact();
    box.#applyRequests();
    const pending = [...box.#entries.values()].filter((e) => !e.dead).length;
    if (pending > 0) logger.info({ pending }, 'crm outbox: resuming undelivered jobs');
    box.#updateGauges();
    return box;
  }

  #apply(r: JournalRecord): void {
    switch (r.op) {
      case 'enqueue': {
        const existing = this.#entries.get(r.job.id);
        if (existing && existing.dead === undefined) return;
        if (existing) this.#remove(r.job.id); // a dead job enqueued again starts over
        const attempts = r.attempts ?? 0;
        const entry: Entry = { job: r.job, attempts, tried: r.tried ?? attempts, nextAt: 0, active: false };
        if (r.dead !== undefined) entry.dead = r.dead;
        this.#entries.set(r.job.id, entry);
        if (!entry.dead) this.#groupOf(r.job.group).push(r.job.id);
        return;
      }
      case 'attempt': {
        const e = this.#entries.get(r.id);
        if (!e) return;
        e.attempts = Math.max(e.attempts, r.n);
        e.tried = Math.max(e.tried, r.total ?? r.n);
        return;
      }
      case 'fail': {
        const e = this.#entries.get(r.id);
        if (e) e.lastError = r.error;
        return;
      }
      case 'done':
        this.#remove(r.id);
        return;
      case 'dead': {
        const e = this.#entries.get(r.id);
        if (!e) return;
        e.dead = r.error;
        this.#leaveGroup(e.job);
        return;
      }
      case 'revive': {
        const e = this.#entries.get(r.id);
        if (!e || e.dead === undefined) return;
        delete e.dead;
        e.attempts = 0;
        e.nextAt = 0;
        // back in its group at its original place: older jobs of the call go first
        const ids = this.#groupOf(e.job.group);
        ids.push(r.id);
        ids.sort((a, b) => this.#order(a) - this.#order(b));
        return;
      }
      case 'state': {
        const s = this.#state.get(r.group) ?? { values: {}, at: r.at };
        s.values[r.key] = r.value;
        s.at = Math.max(s.at, r.at);
        this.#state.set(r.group, s);
        return;
      }
    }
  }

  #order(id: string): number {
    return Date.parse(this.#entries.get(id)?.job.enqueuedAt ?? '') || 0;
  }

  #groupOf(group: string): string[] {
    let ids = this.#groups.get(group);
    if (!ids) this.#groups.set(group, (ids = []));
    return ids;
  }

  #leaveGroup(job: DeliveryJob): void {
    const ids = this.#groups.get(job.group);
    if (!ids) return;
    const i = ids.indexOf(job.id);
    if (i >= 0) ids.splice(i, 1);
    if (ids.length === 0) this.#groups.delete(job.group);
  }

  #remove(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#leaveGroup(e.job);
  }

  async enqueue(job: DeliveryJob): Promise<void> {
    const existing = this.#entries.get(job.id);
    if (existing && existing.dead === undefined) return; // same call, same moment, already queued
    const record: JournalRecord = { op: 'enqueue', job };
    this.#apply(record);
    this.#updateGauges();
    await this.#journal.append(record);
    this.#kick();
  }

  start(): void {
    if (!this.deliverer) throw new Error('this outbox was opened without a deliverer');
    this.#started = true;
    this.#pollControl();
    this.#kick();
  }

  /** Look for CLI requests every controlPollMs; the poll alone does not keep the process up. */
  #pollControl(): void {
    this.#control = backgroundTimer(
      this.#clock,
      () => {
        this.#applyRequests();
        this.#pollControl();
      },
      this.opts.controlPollMs ?? 2000,
    );
  }

  #stateFor(group: string): SinkState {
    return {
      get: <T>(key: string) => Promise.resolve(this.#state.get(group)?.values[key] as T | undefined),
      set: async (key: string, value: unknown) => {
        const record: JournalRecord = { op: 'state', group, key, value, at: this.#clock.now() };
        this.#apply(record);
        await this.#journal.append(record);
      },
    };
  }

  /** Start every ready group head, up to the concurrency limit; arm a timer for the next one due. */
  #kick(): void {
    if (!this.#started || this.#closing.signal.aborted) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.#clock.now();
    let nextDue = Infinity;
    for (const ids of this.#groups.values()) {
      if (this.#inFlight >= this.opts.concurrency) break;
      const head = this.#entries.get(ids[0] ?? '');
      if (!head || head.active) continue;
      if (head.nextAt > now) {
        nextDue = Math.min(nextDue, head.nextAt);
        continue;
      }
      this.#run(head);
    }
    if (this.#inFlight < this.opts.concurrency && nextDue !== Infinity) {
      this.#timer = this.#clock.setTimeout(() => this.#kick(), Math.max(1, nextDue - now));
    }
    this.#notifyIfDrained();
  }

  #run(entry: Entry): void {
    entry.active = true;
    this.#inFlight++;
    this.#attempt(entry)
      .catch((err: unknown) => {
        // journal write failed (disk full?): keep the job, try again later
        this.logger.error({ err, jobId: entry.job.id }, 'crm outbox: journal write failed');
        entry.nextAt = this.#clock.now() + 5000;
      })
      .finally(() => {
        entry.active = false;
        this.#inFlight--;
        if (this.#inFlight === 0) this.#idle.resolveAll();
        this.#updateGauges();
        this.#kick();
      });
  }

  async #attempt(entry: Entry): Promise<void> {
    const { job } = entry;
    const n = ++entry.attempts;
    const total = ++entry.tried;
    await this.#journal.append({ op: 'attempt', id: job.id, n, total });
    const state = this.#stateFor(job.group);
    const decision: Decision = await this.deliverer!.attempt(job, n, state, this.#closing.signal, total);
    if (decision.kind === 'done') {
      this.#remove(job.id);
      await this.#journal.append({ op: 'done', id: job.id });
      await this.#maybeCompact();
    } else if (decision.kind === 'retry') {
      entry.nextAt = this.#clock.now() + decision.delayMs;
      entry.lastError = decision.error;
      if (!this.#closing.signal.aborted) await this.#journal.append({ op: 'fail', id: job.id, error: decision.error });
    } else {
      entry.dead = decision.error;
      this.#leaveGroup(job);
      await this.#journal.append({ op: 'dead', id: job.id, error: decision.error });
    }
  }

  async #maybeCompact(): Promise<void> {
    const every = this.opts.compactEvery ?? 10_000;
    if (this.#compacting || this.#journal.appended < every) return;
    await this.#compact();
  }

  /** Rewrite the journal as the live jobs and recent state only. */
  async #compact(): Promise<void> {
    this.#compacting = true;
    try {
      const records: JournalRecord[] = [];
      const live = new Set<string>();
      for (const e of this.#entries.values()) {
        const r: JournalRecord = { op: 'enqueue', job: e.job, attempts: e.attempts, tried: e.tried };
        if (e.dead !== undefined) r.dead = e.dead;
        records.push(r);
        live.add(e.job.group);
      }
      const cutoff = this.#clock.now() - (this.opts.stateTtlMs ?? 24 * 3600_000);
      for (const [group, s] of this.#state) {
        if (s.at < cutoff && !live.has(group)) {
          this.#state.delete(group);
          continue;
        }
        for (const [key, value] of Object.entries(s.values)) records.push({ op: 'state', group, key, value, at: s.at });
      }
      await this.#journal.rewrite(records);
    } finally {
      this.#compacting = false;
    }
  }

  /** Pick up `voicebot outbox retry` requests left by the CLI while this process holds the lock. */
  #applyRequests(): void {
    const path = join(this.opts.dir, REQUESTS);
    if (!existsSync(path)) return;
    const taken = `${path}.${process.pid}`;
    try {
      renameSync(path, taken);
      const lines = readFileSync(taken, 'utf8').split('\n').filter(Boolean);
      rmSync(taken, { force: true });
      for (const line of lines) {
        const req = JSON.parse(line) as { retry?: string | null };
        if ('retry' in req) {
          this.retry(req.retry ?? undefined).catch((err: unknown) =>
            this.logger.error({ err }, 'crm outbox: retry request failed'),
          );
        }
      }
    } catch (err) {
      this.logger.warn({ err }, 'crm outbox: could not read retry requests');
    }
  }

  async list(): Promise<OutboxEntry[]> {
    return [...this.#entries.values()].map((e) => toView(e));
  }

  async retry(id?: string): Promise<number> {
    const targets = [...this.#entries.values()].filter(
      (e) => e.dead !== undefined && (id === undefined || e.job.id === id),
    );
    for (const e of targets) {
      const record: JournalRecord = { op: 'revive', id: e.job.id };
      this.#apply(record);
      await this.#journal.append(record);
      this.logger.info({ jobId: e.job.id, sink: e.job.sink }, 'crm outbox: dead letter queued again');
    }
    this.#updateGauges();
    this.#kick();
    return targets.length;
  }

  async depth(): Promise<number> {
    return this.#pendingCount();
  }

  #pendingCount(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.dead === undefined) n++;
    return n;
  }

  #updateGauges(): void {
    const m = this.deliverer?.metrics;
    if (!m) return;
    const pending = this.#pendingCount();
    m.depth.set(pending);
    m.deadDepth.set(this.#entries.size - pending);
  }

  #notifyIfDrained(): void {
    if (this.#inFlight > 0 || this.#pendingCount() > 0) return;
    this.#drained.resolveAll();
  }

  drained(signal?: AbortSignal): Promise<void> {
    if (this.#inFlight === 0 && this.#pendingCount() === 0) return Promise.resolve();
    return this.#drained.wait(signal);
  }

  /** Stops new attempts, aborts those in flight (they stay queued for the next start) and releases the lock. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new Error('outbox closing'));
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#control !== undefined) this.#clock.clearTimeout(this.#control);
    // attempts in flight see the abort and finish; bound the wait so a stuck one cannot block shutdown
    if (this.#inFlight > 0) await this.#idle.wait({ timeoutMs: 10_000 }).catch(() => undefined);
    await this.#journal.close();
    releaseLock(this.opts.dir);
  }
}

function toView(e: Entry): OutboxEntry {
  const view: OutboxEntry = {
    id: e.job.id,
    sink: e.job.sink,
    event: e.job.event,
    callId: e.job.record.callId,
    status: e.dead !== undefined ? 'dead' : e.active ? 'active' : 'pending',
    attempts: e.attempts,
    enqueuedAt: e.job.enqueuedAt,
  };
  if (e.dead === undefined && e.nextAt > 0) view.nextAt = e.nextAt;
  const error = e.dead ?? e.lastError;
  if (error !== undefined) view.lastError = error;
  return view;
}

/** Read-only view for the CLI while another process holds the lock. */
export function readOutbox(dir: string): OutboxEntry[] {
  const entries = new Map<string, Entry>();
  const { records } = Journal.read<JournalRecord>(join(dir, JOURNAL));
  for (const r of records) {
    if (r.op === 'enqueue' && !entries.has(r.job.id)) {
      const e: Entry = { job: r.job, attempts: r.attempts ?? 0, tried: 0, nextAt: 0, active: false };
      if (r.dead !== undefined) e.dead = r.dead;
      entries.set(r.job.id, e);
    } else if (r.op === 'attempt') {
      const e = entries.get(r.id);
      if (e) e.attempts = Math.max(e.attempts, r.n);
    } else if (r.op === 'fail') {
      const e = entries.get(r.id);
      if (e) e.lastError = r.error;
    } else if (r.op === 'done') entries.delete(r.id);
    else if (r.op === 'dead') {
      const e = entries.get(r.id);
      if (e) e.dead = r.error;
    } else if (r.op === 'revive') {
      const e = entries.get(r.id);
      if (e) {
        delete e.dead;
        e.attempts = 0;
      }
    }
  }
  return [...entries.values()].map(toView);
}
