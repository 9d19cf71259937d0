import type { CallState } from '../core/call-events.js';

/** What another bot instance needs to continue a call (after a restart or ARI reconnect). Versioned JSON. */
export interface CallSession {
  version: 1;
  callId: string;
  backend: string;
  state: CallState;
  phone: string;
  startedAt: string;
  /** backend-specific ids: bridge id, externalMedia channel id, RTP port, jambonz call_sid … */
  backendData: Record<string, unknown>;
  /** serialised dialog progress (transcript so far, low-confidence count, intent) */
  dialog: Record<string, unknown>;
  updatedAt: string;
  /**
   * Compare-and-set revision: 1 when first written through `compareAndSet`, +1 on each such write (absent: 0). Whoever
   * writes with a stale revision learns that another process owns the call now.
   */
  rev?: number;
  /** the bot process serving the call (its instance id); '' or absent: nobody (detached, waiting for takeover) */
  owner?: string;
}

export interface SessionStore {
  get(callId: string): Promise<CallSession | undefined>;
  /** create or replace; refreshes the TTL */
  put(session: CallSession): Promise<void>;
  /**
   * Writes `session` only if the stored revision is `expectedRev` (0: no entry yet), as revision `expectedRev + 1`.
   * Returns the new revision, or null when the entry moved on (another writer got there first). Refreshes the TTL.
   */
  compareAndSet(session: CallSession, expectedRev: number): Promise<number | null>;
  delete(callId: string): Promise<void>;
  list(): Promise<CallSession[]>;
  close(): Promise<void>;
}
