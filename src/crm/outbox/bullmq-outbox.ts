import { setMaxListeners } from 'node:events';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job, type JobType } from 'bullmq';
import { Redis } from 'ioredis';
import { backgroundTimer, systemClock } from '../../core/clock.js';
import { deadline } from '../../core/deadline.js';
import { readyWithin } from '../../core/redis-ready.js';
import type { Logger } from '../../log/logger.js';
import type { Deliverer } from '../delivery.js';
import { dropErrorsOfClosedConnections } from './bullmq-closed-errors.js';
import { EVENT_ORDER, jobIdFor, type DeliveryJob, type SinkState } from '../sink.js';
import { readSpill, Spill } from './spill.js';
import type { Outbox, OutboxEntry } from './types.js';

export interface BullmqOutboxOptions {
  url: string;
  /** redis.keyPrefix, e.g. "voicebot:" */
  keyPrefix: string;
  queueName: string;
  concurrency: number;
  maxAttempts: number;
  /** how long per-call sink state (ticket ids) and attempt counts are kept */
  stateTtlSec?: number;
  /** where jobs go that Redis did not take within enqueueTimeoutMs (the bot's crm.outbox.dir) */
  spillDir?: string;
  /** bound on handing one job to Redis before it is spilled to disk instead */
  enqueueTimeoutMs?: number;
  /** a job whose process died is run again (by any instance) this long after its last lock renewal */
  takeoverAfterMs?: number;
  /** how often the depth gauges are re-read (other instances change the queue too) */
  gaugeRefreshMs?: number;
}

/** Job states that are still to run: a later job of the same call waits while an earlier one is in one of them. */
const PENDING: ReadonlySet<string> = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);
const COUNTED: JobType[] = ['waiting', 'delayed', 'active', 'prioritized'];
const GROUP_WAIT_MS = 250;
const FORWARD_EVERY_MS = 1000;

/** Release the group lock only if we still hold it (it may have expired and been taken). */
const UNLOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
/** Take the group lock if it is free or already ours (a stalled run of the same job taking over its own attempt). */
const LOCK = `local v = redis.call('get', KEYS[1])
if v == false or v == ARGV[1] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

/**
 * The outbox on Redis (BullMQ) for multi-instance deployments, as durable as the file outbox:
 * - every attempt is counted in Redis before its request, so a job re-run after a crash (stalled) knows an earlier
 *   try may have landed and the sink looks before writing again;
 * - a call's jobs run one at a time and in event order on every path (first try, retry, stall, revived dead letter):
 *   a later event waits while an earlier one is pending, and a per-call lock keeps two from running at once;
 * - enqueue never waits on an unreachable Redis for longer than enqueueTimeoutMs: the job goes to an fsync'd
 *   spill journal on disk and is forwarded, in order, when Redis answers again.
 * BullMQ's failed set holds the dead letters; retries are ours (moveToDelayed), not BullMQ's attempts.
 */
export class BullmqOutbox implements Outbox {
  readonly kind = 'redis';
  /** enqueue, list, retry: fails fast while Redis is away (no offline queue) */
  readonly #producer: Redis;
  /** the worker's connection: waits for Redis to come back, as BullMQ's blocking commands need */
  readonly #worker: Redis;
  readonly #queue: Queue;
  #bullWorker: Worker | undefined;
  readonly #closing = new AbortController();
  #forwarding: Promise<void> | undefined;
  #forwardTimer: unknown;
  #gaugeTimer: unknown;
  #gauges: { running: boolean; again: boolean } = { running: false, again: false };

  private constructor(
    readonly opts: BullmqOutboxOptions,
    readonly deliverer: Deliverer | undefined,
    readonly logger: Logger,
    readonly spill: Spill | undefined,
  ) {
    const timeout = opts.enqueueTimeoutMs ?? 2000;
    dropErrorsOfClosedConnections(); // before any connection exists: closing one mid-connect must not throw
    setMaxListeners(0, this.#closing.signal); // every enqueue and attempt in flight follows it
    this.#producer = new Redis(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: timeout,
      connectTimeout: timeout,
      maxRetriesPerRequest: 1,
    });
    // BullMQ needs maxRetriesPerRequest: null (blocking commands).
    this.#worker = new Redis(opts.url, { maxRetriesPerRequest: null });
    for (const c of [this.#producer, this.#worker])
      c.on('error', (err: Error) => logger.warn({ err: err.message }, 'crm outbox: redis error'));
    this.#queue = new Queue(opts.queueName, { connection: this.#producer, prefix: this.#bullPrefix() });
    this.#queue.on('error', (err) => logger.warn({ err: err.message }, 'crm outbox: queue error'));
  }

  /** With a deliverer (the bot) the spill journal in spillDir is opened, and whatever a crash left there is forwarded. */
  static async open(
    opts: BullmqOutboxOptions,
    deliverer: Deliverer | undefined,
    logger: Logger,
  ): Promise<BullmqOutbox> {
    const spill = deliverer && opts.spillDir ? await Spill.open(opts.spillDir) : undefined;
    if (spill && spill.pending > 0)
      logger.info({ pending: spill.pending }, 'crm outbox: forwarding spilled jobs to Redis');
    return new BullmqOutbox(opts, deliverer, logger, spill);
  }

  #bullPrefix(): string {
    return this.opts.keyPrefix.replace(/:+$/, '') || 'bull';
  }
  #lockKey(group: string): string {
    return `${this.opts.keyPrefix}crm:running:${group}`;
  }
  #stateKey(group: string): string {
    return `${this.opts.keyPrefix}crm:state:${group}`;
  }
  /** attempts since the last revival (n), every attempt ever (total), last error */
  #countKey(id: string): string {
    return `${this.opts.keyPrefix}crm:attempts:${id}`;
  }
  #ttlSec(): number {
    return this.opts.stateTtlSec ?? 7 * 24 * 3600;
  }

  /** On Redis within enqueueTimeoutMs, or on disk in the spill journal; never waits on Redis longer than that. */
  async enqueue(job: DeliveryJob): Promise<void> {
    // behind jobs already spilled, so a call's end never reaches Redis before its escalation
    if (this.spill && this.spill.pending > 0) return this.#spillJob(job, 'earlier jobs are still spilled');
    try {
      await this.#bounded((signal) => this.#add(job, signal));
    } catch (err) {
      if (!this.spill) throw err;
      await this.#spillJob(job, err instanceof Error ? err.message : String(err));
      return;
    }
    this.#refreshGauges();
  }

  async #spillJob(job: DeliveryJob, why: string): Promise<void> {
    await this.spill!.add(job);
    this.logger.warn({ jobId: job.id, why }, 'crm outbox: Redis did not take the job in time, kept on disk');
    this.#refreshGauges();
    this.#forwardSoon(0);
  }

  /** Runs `op` with a bound of enqueueTimeoutMs; the op may still land later (ids make that harmless). */
  async #bounded<T>(op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const limit = deadline(this.opts.enqueueTimeoutMs ?? 2000, this.#closing.signal);
    try {
      const aborted = new Promise<never>((_, reject) =>
        limit.signal.addEventListener('abort', () => reject(new Error('redis did not answer in time')), {
          once: true,
        }),
      );
      return await Promise.race([op(limit.signal), aborted]);
    } finally {
      limit.dispose();
    }
  }

  async #add(job: DeliveryJob, signal: AbortSignal): Promise<void> {
    const existing = await this.#queue.getJob(job.id);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'failed') return; // already queued, or delivered
      signal.throwIfAborted();
      await this.#producer.hset(this.#countKey(job.id), 'n', 0); // a dead job submitted again: fresh budget
      await existing.remove();
    }
    signal.throwIfAborted();
    await this.#queue.add('deliver', job, {
      jobId: job.id,
      // failures we decide on are retried by moveToDelayed; this only covers an unexpected throw (Redis blip)
      attempts: 1_000_000,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: false,
    });
  }

  #forwardSoon(delayMs: number): void {
    if (!this.spill || this.#closing.signal.aborted || this.#forwardTimer !== undefined || this.#forwarding) return;
    this.#forwardTimer = backgroundTimer(
      systemClock,
      () => {
        this.#forwardTimer = undefined;
        this.#forwarding = this.#forward().finally(() => (this.#forwarding = undefined));
      },
      delayMs,
    );
  }

  async #forward(): Promise<void> {
    const spill = this.spill!;
    try {
      const sent = await spill.forward((job) => this.#bounded((signal) => this.#add(job, signal)));
      if (sent > 0) this.logger.info({ sent }, 'crm outbox: spilled jobs handed to Redis');
    } catch (err) {
      this.logger.debug({ err: (err as Error).message, pending: spill.pending }, 'crm outbox: Redis still away');
    }
    this.#refreshGauges();
    if (spill.pending > 0) {
      this.#forwarding = undefined;
      this.#forwardSoon(FORWARD_EVERY_MS);
    }
  }

  start(): void {
    const deliverer = this.deliverer;
    if (!deliverer) throw new Error('this outbox was opened without a deliverer');
    const takeover = this.opts.takeoverAfterMs ?? 30_000;
    this.#bullWorker = new Worker<DeliveryJob>(
      this.opts.queueName,
      (job, token) => this.#process(deliverer, job, token),
      {
        connection: this.#worker,
        prefix: this.#bullPrefix(),
        concurrency: this.opts.concurrency,
        lockDuration: takeover,
        stalledInterval: Math.max(500, Math.floor(takeover / 2)),
        // a job whose process died is never failed for it: our attempt count (taken before each try) bounds it
        maxStalledCount: 1_000_000,
      },
    );
    this.#bullWorker.on('error', (err) => this.logger.warn({ err: err.message }, 'crm outbox: worker error'));
    this.#bullWorker.on('completed', () => this.#refreshGauges());
    this.#bullWorker.on('failed', () => this.#refreshGauges());
    this.#bullWorker.on('stalled', (jobId) =>
      this.logger.warn({ jobId }, 'crm outbox: job of a dead worker taken over'),
    );
    this.#pollGauges();
    this.#forwardSoon(0);
  }

  async #process(deliverer: Deliverer, job: Job<DeliveryJob>, token?: string): Promise<void> {
    const data = job.data;
    if (await this.#waitsForEarlier(data)) return this.#later(job, token, GROUP_WAIT_MS);
    const lock = this.#lockKey(data.group);
    const lockMs = String(deliverer.opts.attemptTimeoutMs + (this.opts.takeoverAfterMs ?? 30_000));
    const redis = await readyWithin(this.#producer, this.opts.enqueueTimeoutMs ?? 2000);
    if (!(await redis.eval(LOCK, 1, lock, data.id, lockMs))) return this.#later(job, token, GROUP_WAIT_MS);
    try {
      // an earlier job of the call may have been revived while we took the lock
      if (await this.#waitsForEarlier(data)) return await this.#later(job, token, GROUP_WAIT_MS);
      const counts = this.#countKey(data.id);
      const res = await this.#producer
        .multi()
        .hincrby(counts, 'n', 1)
        .hincrby(counts, 'total', 1)
        .expire(counts, this.#ttlSec())
        .exec();
      const n = Number(res?.[0]?.[1]);
      const total = Number(res?.[1]?.[1]);
      if (!Number.isInteger(n) || !Number.isInteger(total)) throw new Error('could not count the attempt');
      if (n > this.opts.maxAttempts) {
        // only reachable when processes died mid-attempt that often: do not let such a job kill instances forever
        const error = `${n - 1} attempts started without finishing (the process died each time)`;
        deliverer.metrics.dead.inc({ sink: data.sink });
        this.logger.error({ jobId: data.id, error }, 'crm delivery dead-lettered');
        throw new UnrecoverableError(error);
      }
      const decision = await deliverer.attempt(data, n, this.#stateFor(data.group), this.#closing.signal, total);
      if (decision.kind === 'done') return;
      if (decision.kind === 'dead') throw new UnrecoverableError(decision.error);
      await this.#producer.hset(counts, 'error', decision.error);
      return await this.#later(job, token, decision.delayMs);
    } finally {
      await this.#producer.eval(UNLOCK, 1, lock, data.id).catch(() => undefined); // else it expires
    }
  }

  /** Puts the job back to run after `ms` without using a BullMQ attempt (ours are counted in #countKey). */
  async #later(job: Job<DeliveryJob>, token: string | undefined, ms: number): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  }

  /** Whether an earlier event's job of the same call is still to run (dead or done ones do not hold it up). */
  async #waitsForEarlier(job: DeliveryJob): Promise<boolean> {
    for (const event of EVENT_ORDER.slice(0, EVENT_ORDER.indexOf(job.event))) {
      const earlier = await this.#queue.getJobState(jobIdFor(job.group, event));
      if (PENDING.has(earlier)) return true;
    }
    return false;
  }

  #stateFor(group: string): SinkState {
    const key = this.#stateKey(group);
    return {
      get: async <T>(k: string) => {
        const raw = await this.#producer.hget(key, k);
        return raw === null ? undefined : (JSON.parse(raw) as T);
      },
      set: async (k: string, value: unknown) => {
        await this.#producer.multi().hset(key, k, JSON.stringify(value)).expire(key, this.#ttlSec()).exec();
      },
    };
  }

  /** Jobs in Redis and jobs spilled on this host; while Redis does not answer (bounded), only the spilled ones. */
  async list(): Promise<OutboxEntry[]> {
    const out = await this.#bounded(() => this.#listRedis()).catch((err: unknown) => {
      this.logger.warn(
        { err: (err as Error).message },
        'crm outbox: Redis did not answer, listing only the jobs kept on this host',
      );
      return [] as OutboxEntry[];
    });
    const spilled = this.spill?.list() ?? (this.opts.spillDir ? readSpill(this.opts.spillDir) : []);
    for (const job of spilled) {
      out.push({
        id: job.id,
        sink: job.sink,
        event: job.event,
        callId: job.record.callId,
        status: 'pending',
        attempts: 0,
        enqueuedAt: job.enqueuedAt,
        lastError: 'on disk until Redis takes it',
      });
    }
    return out;
  }

  async #listRedis(): Promise<OutboxEntry[]> {
    const jobs = await this.#queue.getJobs([...COUNTED, 'failed']);
    const out: OutboxEntry[] = [];
    for (const job of jobs) {
      const data = job.data as DeliveryJob;
      const state = await job.getState();
      const counts = await this.#producer.hgetall(this.#countKey(data.id));
      const entry: OutboxEntry = {
        id: data.id,
        sink: data.sink,
        event: data.event,
        callId: data.record.callId,
        status: state === 'failed' ? 'dead' : state === 'active' ? 'active' : 'pending',
        attempts: Number(counts.n ?? 0),
        enqueuedAt: data.enqueuedAt,
      };
      const error = job.failedReason || counts.error;
      if (error) entry.lastError = error;
      if (state === 'delayed') entry.nextAt = job.timestamp + (job.delay ?? 0);
      out.push(entry);
    }
    return out;
  }

  /** Revives dead letters with a fresh budget; each still waits for its call's earlier jobs when it runs. */
  async retry(id?: string): Promise<number> {
    const failed = await this.#queue.getFailed();
    const rank = (j: Job) => EVENT_ORDER.indexOf((j.data as DeliveryJob).event);
    // earlier events first: a revived end must find its call's escalation already pending, never still dead
    const targets = failed.filter((j) => id === undefined || j.id === id).sort((a, b) => rank(a) - rank(b));
    for (const job of targets) {
      await this.#producer.hset(this.#countKey(job.id!), 'n', 0); // before it can run
      await job.retry('failed', { resetAttemptsMade: true });
      this.logger.info({ jobId: job.id }, 'crm outbox: dead letter queued again');
    }
    this.#refreshGauges();
    return targets.length;
  }

  /** Jobs in Redis still to run, plus jobs spilled on this instance's disk. */
  async depth(): Promise<number> {
    const c = await this.#queue.getJobCounts(...COUNTED);
    return Object.values(c).reduce((a, b) => a + b, 0) + (this.spill?.pending ?? 0);
  }

  /**
   * Re-reads the gauges, coalescing calls that arrive meanwhile into one more read. Never from inside a running job:
   * it would count itself as active, and nothing would correct the gauge after the last job.
   */
  #refreshGauges(): void {
    const m = this.deliverer?.metrics;
    if (!m || this.#closing.signal.aborted) return;
    if (this.#gauges.running) {
      this.#gauges.again = true;
      return;
    }
    this.#gauges.running = true;
    this.#gauges.again = false;
    this.#queue
      .getJobCounts(...COUNTED, 'failed')
      .then((c) => {
        const waiting = COUNTED.reduce((a, k) => a + (c[k] ?? 0), 0);
        m.depth.set(waiting + (this.spill?.pending ?? 0));
        m.deadDepth.set(c.failed ?? 0);
      })
      .catch(() => undefined) // Redis away: the gauges keep their last values until it answers
      .finally(() => {
        this.#gauges.running = false;
        if (this.#gauges.again) this.#refreshGauges();
      });
  }

  #pollGauges(): void {
    this.#gaugeTimer = backgroundTimer(
      systemClock,
      () => {
        this.#refreshGauges();
        this.#pollGauges();
      },
      this.opts.gaugeRefreshMs ?? 5000,
    );
  }

  async drained(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const depth = await this.depth().catch(() => -1); // Redis away: not drained
      if (depth === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort(new Error('outbox closing'));
    for (const t of [this.#forwardTimer, this.#gaugeTimer]) if (t !== undefined) systemClock.clearTimeout(t);
    await this.#forwarding;
    await this.#bullWorker?.close();
    await this.#queue.close();
    await this.spill?.close();
    this.#producer.disconnect();
    this.#worker.disconnect();
  }
}
