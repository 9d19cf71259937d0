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
}

export interface SessionStore {
  get(callId: string): Promise<CallSession | undefined>;
  /** create or replace; refreshes the TTL */
  put(session: CallSession): Promise<void>;
  delete(callId: string): Promise<void>;
  list(): Promise<CallSession[]>;
  close(): Promise<void>;
}
