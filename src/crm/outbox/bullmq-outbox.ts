import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../../log/logger.js';
import type { Deliverer } from '../delivery.js';
import type { DeliveryJob, SinkState } from '../sink.js';
import type { Outbox, OutboxEntry } from './types.js';

export interface BullmqOutboxOptions {
  url: string;
  /** redis.keyPrefix, e.g. "voicebot:" */
  keyPrefix: string;
  queueName: string;
  concurrency: number;
  maxAttempts: number;
  /** how long per-call sink state (ticket ids) is kept */
  stateTtlSec?: number;
}

/** Carries the deliverer's chosen delay to BullMQ's backoff strategy. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

const GROUP_WAIT_MS = 250;

/**
 * The outbox on Redis (BullMQ) for multi-instance deployments. Failed jobs (BullMQ's failed set) are the
 * dead letters. Jobs of one call and sink still run in order: each waits until it is the head of its group list.
 */
export class BullmqOutbox implements Outbox {
  readonly kind = 'redis';
  readonly #redis: Redis;
  readonly #queue: Queue;
  #worker: Worker | undefined;
  readonly #closing = new AbortController();

  constructor(
    readonly opts: BullmqOutboxOptions,
    readonly deliverer: Deliverer | undefined,
    readonly logger: Logger,
  ) {
    // BullMQ needs maxRetriesPerRequest: null (blocking commands).
    this.#redis = new Redis(opts.url, { maxRetriesPerRequest: null });
    this.#redis.on('error', (err) => logger.warn({ err: err.message }, 'crm outbox: redis error'));
    this.#queue = new Queue(opts.queueName, { connection: this.#redis, prefix: this.#bullPrefix() });
    this.#queue.on('error', (err) => logger.warn({ err: err.message }, 'crm outbox: queue error'));
  }

  #bullPrefix(): string {
    return this.opts.keyPrefix.replace(/:+$/, '') || 'bull';
  }
  #groupKey(group: string): string {
    return `${this.opts.keyPrefix}crm:group:${group}`;
  }
  #stateKey(group: string): string {
    return `${this.opts.keyPrefix}crm:state:${group}`;
  }

  async enqueue(job: DeliveryJob): Promise<void> {
    const existing = await this.#queue.getJob(job.id);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'failed') return; // already queued, or delivered
      await existing.remove();
    }
    await this.#redis.rpush(this.#groupKey(job.group), job.id);
    await this.#queue.add('deliver', job, {
      jobId: job.id,
      attempts: this.opts.maxAttempts,
      backoff: { type: 'voicebot' },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: false,
    });
    await this.#updateGauges();
  }

  start(): void {
    const deliverer = this.deliverer;
    if (!deliverer) throw new Error('this outbox was opened without a deliverer');
    this.#worker = new Worker<DeliveryJob>(this.opts.queueName, (job, token) => this.#process(deliverer, job, token), {
      connection: this.#redis,
      prefix: this.#bullPrefix(),
      concurrency: this.opts.concurrency,
      settings: {
        backoffStrategy: (_attempts, _type, err) => (err instanceof RetryLater ? err.delayMs : 1000),
      },
    });
    this.#worker.on('error', (err) => this.logger.warn({ err: err.message }, 'crm outbox: worker error'));
  }

  async #process(deliverer: Deliverer, job: Job<DeliveryJob>, token?: string): Promise<void> {
    const data = job.data;
    if (!(await this.#isGroupHead(data))) {
      await job.moveToDelayed(Date.now() + GROUP_WAIT_MS, token);
      throw new DelayedError();
    }
    const decision = await deliverer.attempt(
      data,
      job.attemptsMade + 1,
      this.#stateFor(data.group),
      this.#closing.signal,
    );
    if (decision.kind === 'retry') throw new RetryLater(decision.error, decision.delayMs);
    await this.#redis.lrem(this.#groupKey(data.group), 1, data.id);
    await this.#updateGauges();
    if (decision.kind === 'dead') throw new UnrecoverableError(decision.error);
  }

  /** Earlier jobs of the same group that are finished (or gone) are dropped from the list on the way. */
  async #isGroupHead(job: DeliveryJob): Promise<boolean> {
    const key = this.#groupKey(job.group);
    if ((await this.#redis.lpos(key, job.id)) === null) return true; // a revived dead letter: not ordered any more
    for (;;) {
      const head = await this.#redis.lindex(key, 0);
      if (head === null || head === job.id) return true;
      const headJob = await this.#queue.getJob(head);
      const state = headJob ? await headJob.getState() : 'unknown';
      if (state === 'completed' || state === 'failed' || state === 'unknown') {
        await this.#redis.lrem(key, 1, head);
        continue;
      }
      return false;
    }
  }

  #stateFor(group: string): SinkState {
    const key = this.#stateKey(group);
    const ttl = this.opts.stateTtlSec ?? 7 * 24 * 3600;
    return {
      get: async <T>(k: string) => {
        const raw = await this.#redis.hget(key, k);
        return raw === null ? undefined : (JSON.parse(raw) as T);
      },
      set: async (k: string, value: unknown) => {
        await this.#redis.multi().hset(key, k, JSON.stringify(value)).expire(key, ttl).exec();
      },
    };
  }

  async list(): Promise<OutboxEntry[]> {
    const jobs = await this.#queue.getJobs(['waiting', 'delayed', 'active', 'prioritized', 'failed']);
    const out: OutboxEntry[] = [];
    for (const job of jobs) {
      const data = job.data as DeliveryJob;
      const state = await job.getState();
      const entry: OutboxEntry = {
        id: data.id,
        sink: data.sink,
        event: data.event,
        callId: data.record.callId,
        status: state === 'failed' ? 'dead' : state === 'active' ? 'active' : 'pending',
        attempts: job.attemptsMade,
        enqueuedAt: data.enqueuedAt,
      };
      if (job.failedReason) entry.lastError = job.failedReason;
      if (state === 'delayed') entry.nextAt = job.timestamp + (job.delay ?? 0);
      out.push(entry);
    }
    return out;
  }

  async retry(id?: string): Promise<number> {
    const failed = await this.#queue.getFailed();
    const targets = failed.filter((j) => id === undefined || j.id === id);
    for (const job of targets) {
      await job.retry('failed', { resetAttemptsMade: true });
      this.logger.info({ jobId: job.id }, 'crm outbox: dead letter queued again');
    }
    await this.#updateGauges();
    return targets.length;
  }

  async depth(): Promise<number> {
    const c = await this.#queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async #updateGauges(): Promise<void> {
    const m = this.deliverer?.metrics;
    if (!m) return;
    const c = await this.#queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'failed');
    m.depth.set((c.waiting ?? 0) + (c.delayed ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0));
    m.deadDepth.set(c.failed ?? 0);
  }

  async drained(signal?: AbortSignal): Promise<void> {
    while ((await this.depth()) > 0) {
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new Error('outbox closing'));
    await this.#worker?.close();
    await this.#queue.close();
    this.#redis.disconnect();
  }
}
