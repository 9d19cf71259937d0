import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DeliveryJob } from '../sink.js';
import { Journal } from './journal.js';
import { releaseLock, takeLock } from './lock.js';

type SpillRecord = { op: 'spill'; job: DeliveryJob } | { op: 'sent'; id: string };

export const SPILL = 'spill.jsonl';

/** The jobs a spill file still holds, oldest first (a job spilled twice counts once). */
export function readSpill(dir: string): DeliveryJob[] {
  const pending = new Map<string, DeliveryJob>();
  for (const r of Journal.read<SpillRecord>(join(dir, SPILL)).records) {
    if (r.op === 'spill') pending.set(r.job.id, r.job);
    else pending.delete(r.id);
  }
  return [...pending.values()];
}

/**
 * Where the Redis outbox puts jobs it could not hand to Redis in time (Redis down, slow or unreachable): an fsync'd
 * local journal, forwarded to Redis in the order written once it answers again. Survives `kill -9` like the file outbox.
 */
export class Spill {
  #journal!: Journal<SpillRecord>;
  #pending: DeliveryJob[] = [];

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<Spill> {
    mkdirSync(dir, { recursive: true });
    takeLock(dir); // two processes forwarding one spill would not keep a call's order
    const spill = new Spill(dir);
    const path = join(dir, SPILL);
    spill.#pending = readSpill(dir);
    spill.#journal = await Journal.open<SpillRecord>(path);
    if (spill.#pending.length === 0) await spill.#journal.rewrite([]);
    return spill;
  }

  /** Jobs on disk that Redis does not have yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Resolves once the job is on disk. */
  async add(job: DeliveryJob): Promise<void> {
    if (this.#pending.some((j) => j.id === job.id)) return;
    this.#pending.push(job);
    await this.#journal.append({ op: 'spill', job });
  }

  /**
   * Hands spilled jobs to `send` oldest first, each marked sent once `send` resolved; stops at the first failure
   * (Redis still away) and leaves it and everything after it for the next call. Returns how many went.
   */
  async forward(send: (job: DeliveryJob) => Promise<void>): Promise<number> {
    let sent = 0;
    while (this.#pending.length > 0) {
      const job = this.#pending[0]!;
      await send(job);
      await this.#journal.append({ op: 'sent', id: job.id });
      this.#pending.shift();
      sent++;
    }
    if (sent > 0) await this.#journal.rewrite([]); // nothing left: start the file over
    return sent;
  }

  list(): readonly DeliveryJob[] {
    return this.#pending;
  }

  async close(): Promise<void> {
    await this.#journal.close();
    releaseLock(this.dir);
  }
}
