import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { CallEventBus } from '../core/call-events.js';
import { callRecordSchema, type CallRecord, type CallRecordEvent, type CallRecordSink } from '../core/call-record.js';
import type { Logger } from '../log/logger.js';
import type { CrmConfig, SinkConfig } from './config.js';
import { crmMetrics, Deliverer } from './delivery.js';
import { BullmqOutbox } from './outbox/bullmq-outbox.js';
import { FileOutbox } from './outbox/file-outbox.js';
import type { Outbox } from './outbox/types.js';
import { startScreenPopWebhook } from './screen-pop.js';
import { jobFor, type TicketSink } from './sink.js';
import { FileSink } from './sinks/file.js';
import { HubspotSink } from './sinks/hubspot.js';
import { WebhookSink } from './sinks/webhook.js';
import { ZendeskSink } from './sinks/zendesk.js';

export type Crm = CallRecordSink & {
  readonly outbox: Outbox;
  readonly sinks: readonly TicketSink[];
  close(): Promise<void>;
};

/** name → config; unnamed sinks are called by their type, then type-2, type-3 … */
export function sinkNames(sinks: SinkConfig[]): string[] {
  const seen = new Map<string, number>();
  return sinks.map((s) => {
    if (s.name) return s.name;
    const n = (seen.get(s.type) ?? 0) + 1;
    seen.set(s.type, n);
    return n === 1 ? s.type : `${s.type}-${n}`;
  });
}

export function buildSinks(crm: CrmConfig, clock: Clock = systemClock): TicketSink[] {
  const names = sinkNames(crm.sinks);
  return crm.sinks.map((s, i) => {
    const name = names[i]!;
    switch (s.type) {
      case 'zendesk':
        return new ZendeskSink(name, s, clock);
      case 'hubspot':
        return new HubspotSink(name, s, clock);
      case 'webhook':
        return new WebhookSink(name, s);
      case 'file':
        return new FileSink(name, s);
    }
  });
}

/**
 * The outbox the config asks for: BullMQ when `redis` is set (crm.outbox.dir then holds what Redis could not take in
 * time), else the local journal in crm.outbox.dir.
 */
export async function openOutbox(config: Config, deliverer: Deliverer | undefined, logger: Logger): Promise<Outbox> {
  const settings = config.crm.outbox;
  if (config.redis) {
    return BullmqOutbox.open(
      {
        url: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        queueName: settings.queueName,
        concurrency: settings.concurrency,
        maxAttempts: settings.maxAttempts,
        spillDir: resolve(settings.dir),
        enqueueTimeoutMs: settings.enqueueTimeoutMs,
        takeoverAfterMs: settings.takeoverAfterMs,
      },
      deliverer,
      logger,
    );
  }
  return FileOutbox.open({ dir: resolve(settings.dir), concurrency: settings.concurrency }, deliverer, logger);
}

/**
 * The CRM concern: CallRecords go into the durable outbox (one job per sink) and are delivered with retries.
 * Publishes `ticket` CallEvents when a sink creates a ticket.
 */
export async function createCrm(
  config: Config,
  logger: Logger,
  metrics: Registry,
  events: CallEventBus,
  opts: { clock?: Clock } = {},
): Promise<Crm> {
  const log = logger.child({ component: 'crm' });
  const sinks = buildSinks(config.crm, opts.clock);
  const settings = config.crm.outbox;
  const deliverer = new Deliverer(
    sinks,
    {
      maxAttempts: settings.maxAttempts,
      baseDelayMs: settings.baseDelayMs,
      maxDelayMs: settings.maxDelayMs,
      attemptTimeoutMs: settings.attemptTimeoutMs,
    },
    log,
    crmMetrics(metrics),
    events,
  );
  const outbox = await openOutbox(config, deliverer, log);
  outbox.start();
  log.info({ sinks: sinks.map((s) => s.name), outbox: outbox.kind }, 'crm outbox started');

  let stopScreenPop: (() => Promise<void>) | undefined;
  const { screenPopWebhookUrl: popUrl, screenPopWebhookSecret: popSecret } = config.crm;
  if (popUrl && popSecret) {
    const consoleUrl = config.web.publicUrl ? new URL('/agent', config.web.publicUrl).toString() : undefined;
    stopScreenPop = startScreenPopWebhook(
      events,
      { url: popUrl, secret: popSecret, ...(consoleUrl ? { consoleUrl } : {}) },
      log,
    );
  } else if (popUrl) {
    log.warn('crm.screenPopWebhookUrl is set without crm.screenPopWebhookSecret: screen-pop webhook disabled');
  }

  return {
    outbox,
    sinks,
    async submit(event: CallRecordEvent, record: CallRecord, signal?: AbortSignal): Promise<void> {
      signal?.throwIfAborted();
      const valid = callRecordSchema.parse(record);
      const now = new Date();
      // Resolves only once every job is durable: the caller may hang up and the process die right after.
      await Promise.all(sinks.map((s) => outbox.enqueue(jobFor(s.name, event, valid, now))));
      log.debug({ callId: record.callId, event, sinks: sinks.length }, 'call record queued for the CRM');
    },
    async close() {
      await stopScreenPop?.();
      await outbox.close();
      await Promise.allSettled(sinks.map(async (s) => s.close?.()));
    },
  };
}
