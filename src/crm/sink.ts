import type { Logger } from '../log/logger.js';
import type { CallRecord, CallRecordEvent } from '../core/call-record.js';

/** One CRM write waiting in the outbox: one record, one moment, one sink. Stored as JSON. */
export interface DeliveryJob {
  /** Unique and stable (sink, call, event); no ':' so BullMQ accepts it as a job id. */
  id: string;
  sink: string;
  /** Jobs of one group (sink + call) are delivered in order: the end update waits for the escalation ticket. */
  group: string;
  event: CallRecordEvent;
  record: CallRecord;
  enqueuedAt: string;
}

/** Durable per-group memory (ticket id, contact id, steps done) that survives restarts and retries. */
export interface SinkState {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

export interface DeliveryContext {
  /**
   * 1 for the first try; counts across restarts, crashes and `voicebot outbox retry`, and is counted (durably) before
   * the request, so anything above 1 means an earlier attempt may have reached the CRM: look before writing again.
   */
  attempt: number;
  signal: AbortSignal;
  state: SinkState;
  logger: Logger;
  /** Count a lookup anomaly (unrelated results, several exact matches) for this sink. */
  anomaly(kind: 'unrelated_results' | 'several_exact'): void;
}

export interface DeliveryResult {
  /** Set when this delivery created the CRM object a person will open (published as a `ticket` CallEvent). */
  ticketId?: string;
  url?: string;
  detail?: string;
}

/** The port every CRM adapter implements. Throw DeliveryError to say whether a retry can help. */
export interface TicketSink {
  readonly name: string;
  readonly type: string;
  deliver(job: DeliveryJob, ctx: DeliveryContext): Promise<DeliveryResult>;
  close?(): Promise<void>;
}

const SAFE = /[^A-Za-z0-9_.-]/g;

/** The order a call's records are written in: a later event of a call waits for the earlier ones. */
export const EVENT_ORDER: readonly CallRecordEvent[] = ['escalation', 'end'];

/** The job id of one event of one group (sink + call): deterministic, so a job can find the call's earlier ones. */
export const jobIdFor = (group: string, event: CallRecordEvent) => `${group}-${event}`;

export function jobFor(sink: string, event: CallRecordEvent, record: CallRecord, now = new Date()): DeliveryJob {
  const call = record.callId.replace(SAFE, '_');
  const group = `${sink}-${call}`;
  return {
    id: jobIdFor(group, event),
    sink,
    group,
    event,
    record,
    enqueuedAt: now.toISOString(),
  };
}
