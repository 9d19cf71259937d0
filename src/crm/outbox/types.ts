import type { DeliveryJob } from '../sink.js';

export interface OutboxEntry {
  id: string;
  sink: string;
  event: DeliveryJob['event'];
  callId: string;
  status: 'pending' | 'active' | 'dead';
  attempts: number;
  enqueuedAt: string;
  /** ms epoch of the next try (pending) */
  nextAt?: number;
  lastError?: string;
}

/** Durable queue of CRM writes. enqueue() resolves once the job is on disk (or in Redis). */
export interface Outbox {
  readonly kind: 'file' | 'redis';
  enqueue(job: DeliveryJob): Promise<void>;
  /** Begin delivering (jobs left undone by a crash are retried first). */
  start(): void;
  list(): Promise<OutboxEntry[]>;
  /** Move one dead job (or all of them) back to the queue with a fresh attempt budget. Returns how many. */
  retry(id?: string): Promise<number>;
  /** Jobs waiting or in flight (dead letters not counted). */
  depth(): Promise<number>;
  /** Resolves when nothing is pending or in flight (tests, graceful drains). */
  drained(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
