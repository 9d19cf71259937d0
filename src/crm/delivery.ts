import type { Registry } from 'prom-client';
import type { CallEventBus } from '../core/call-events.js';
import { counter, gauge, histogram } from '../core/metrics.js';
import type { Logger } from '../log/logger.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { DeliveryError, DeliveryMismatchError, statusLabel } from './errors.js';
import type { DeliveryJob, DeliveryResult, SinkState, TicketSink } from './sink.js';
import { deadline } from '../core/deadline.js';
import { isRetryable } from '../core/errors.js';

export type Decision =
  | { kind: 'done'; result: DeliveryResult }
  | { kind: 'retry'; delayMs: number; error: string; retryAfterMs?: number }
  | { kind: 'dead'; error: string };

export interface DelivererOptions extends BackoffPolicy {
  maxAttempts: number;
  attemptTimeoutMs: number;
}

/** CRM delivery metrics, shared by both outbox kinds. */
export function crmMetrics(registry: Registry) {
  return {
    attempts: counter(registry, 'voicebot_crm_delivery_attempts_total', 'CRM delivery attempts', ['sink']),
    results: counter(registry, 'voicebot_crm_deliveries_total', 'CRM delivery attempt results by sink and status', [
      'sink',
      'result',
      'status',
    ]),
    mismatches: counter(
      registry,
      'voicebot_crm_delivery_mismatches_total',
      'CRM delivery attempts failed because the answer was about another record than the one asked for',
      ['sink'],
    ),
    anomalies: counter(
      registry,
      'voicebot_crm_lookup_anomalies_total',
      'CRM lookups that returned unrelated records or several exact matches',
      ['sink', 'kind'],
    ),
    dead: counter(registry, 'voicebot_crm_dead_letters_total', 'CRM jobs moved to the dead-letter list', ['sink']),
    depth: gauge(registry, 'voicebot_crm_outbox_depth', 'CRM jobs waiting for delivery (not dead)'),
    deadDepth: gauge(registry, 'voicebot_crm_outbox_dead', 'CRM jobs on the dead-letter list'),
    seconds: histogram(
      registry,
      'voicebot_crm_delivery_seconds',
      'CRM delivery attempt duration',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ['sink'],
    ),
  };
}
export type CrmMetrics = ReturnType<typeof crmMetrics>;

/**
 * Runs one attempt of one job against its sink and decides what the outbox does next.
 * Every attempt is logged; the outcome is counted by sink and status.
 */
export class Deliverer {
  readonly #sinks: Map<string, TicketSink>;
  constructor(
    sinks: TicketSink[],
    readonly opts: DelivererOptions,
    readonly logger: Logger,
    readonly metrics: CrmMetrics,
    readonly events?: CallEventBus,
  ) {
    this.#sinks = new Map(sinks.map((s) => [s.name, s]));
  }

  /**
   * `attempt` counts against maxAttempts (it starts over when a dead letter is retried); `total` counts every attempt
   * the job ever had, revivals included, and is what the sink sees: a revived job's earlier tries may have landed.
   */
  async attempt(
    job: DeliveryJob,
    attempt: number,
    state: SinkState,
    closing: AbortSignal,
    total = attempt,
  ): Promise<Decision> {
    const log = this.logger.child({
      callId: job.record.callId,
      jobId: job.id,
      sink: job.sink,
      event: job.event,
      attempt: total,
    });
    const sink = this.#sinks.get(job.sink);
    if (!sink) {
      const error = `no sink named "${job.sink}" is configured`;
      log.error(
        { error },
        'crm delivery dead-lettered: sink missing from config (re-add it, then `voicebot outbox retry`)',
      );
      this.metrics.dead.inc({ sink: job.sink });
      return { kind: 'dead', error };
    }
    this.metrics.attempts.inc({ sink: job.sink });
    const limit = deadline(this.opts.attemptTimeoutMs, closing);
    const signal = limit.signal;
    const started = performance.now();
    try {
      const anomaly = (kind: string) => this.metrics.anomalies.inc({ sink: job.sink, kind });
      const result = await sink.deliver(job, { attempt: total, signal, state, logger: log, anomaly });
      const seconds = (performance.now() - started) / 1000;
      this.metrics.seconds.observe({ sink: job.sink }, seconds);
      this.metrics.results.inc({ sink: job.sink, result: 'success', status: 'ok' });
      log.info({ ms: Math.round(seconds * 1000), detail: result.detail }, 'crm delivery succeeded');
      if (result.ticketId) {
        this.events?.publish({
          type: 'ticket',
          callId: job.record.callId,
          ticketId: result.ticketId,
          sink: job.sink,
          ...(result.url ? { url: result.url } : {}),
        });
      }
      return { kind: 'done', result };
    } catch (err) {
      this.metrics.seconds.observe({ sink: job.sink }, (performance.now() - started) / 1000);
      const status = closing.aborted ? 'shutdown' : statusLabel(err);
      this.metrics.results.inc({ sink: job.sink, result: 'failure', status });
      if (err instanceof DeliveryMismatchError) this.metrics.mismatches.inc({ sink: job.sink });
      const error = err instanceof Error ? err.message : String(err);
      const retryable = closing.aborted || isRetryable(err);
      if (retryable && (attempt < this.opts.maxAttempts || closing.aborted)) {
        const retryAfterMs = err instanceof DeliveryError ? err.retryAfterMs : undefined;
        const delayMs = backoffDelay(attempt, this.opts, retryAfterMs);
        log.warn({ status, error, retryInMs: delayMs }, 'crm delivery failed, will retry');
        return { kind: 'retry', delayMs, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      }
      this.metrics.dead.inc({ sink: job.sink });
      log.error(
        { status, error },
        retryable
          ? `crm delivery dead-lettered after ${attempt} attempts; fix the cause, then \`voicebot outbox retry ${job.id}\``
          : `crm delivery dead-lettered: ${job.sink} rejected it (${status}); fix the cause, then \`voicebot outbox retry ${job.id}\``,
      );
      return { kind: 'dead', error };
    } finally {
      limit.dispose();
    }
  }
}
